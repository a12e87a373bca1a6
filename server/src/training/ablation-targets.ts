import {
  decodeTargets,
  defaultAlignmentTask,
  packAlignmentMap,
  randomProjection,
  referenceTargets,
  solveAlignmentTask,
} from '@coopt/shared/math';
import { eq, inArray } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { campaigns, datasets, priorModels, priorScores, rounds } from '../db/schema.ts';
import { initTfjs, tf } from '../priors/tfjs-runtime.ts';
import { priorOutputs } from './prior-features.ts';
import { type RoundTargets, readRoundTargets } from './round-targets.ts';

type Deps = { database: Database; blobs: BlobStore };

/**
 * The two alignment ablations of the paper, on the same samples and the same prior per sample as
 * a completed round:
 * - `no-align`: every prior's features projected by its own seeded W (step 3's projection), with
 *   no map T_k, so the participants' target spaces disagree;
 * - `worst-prior`: step 4 with the least uniform prior (highest V) as the reference instead of the best.
 */
export type TargetAblation = 'no-align' | 'worst-prior';

/** The maps each prior's features go through, [l + 1, n] packed (T then the bias), by prior id. */
async function ablationMaps(
  features: Map<number, { values: Float32Array; ids: Uint32Array; dim: number; uniformity: number }>,
  ablation: TargetAblation,
  n: number,
  seed: number,
): Promise<Map<number, Float32Array>> {
  const projection = async (l: number) => {
    const wt = tf.tidy(() => tf.transpose(randomProjection(n, l, seed)));
    const map = packAlignmentMap((await wt.data()) as Float32Array, new Float32Array(n));
    wt.dispose();
    return map;
  };
  const maps = new Map<number, Float32Array>();
  if (ablation === 'no-align') {
    for (const [id, f] of features) maps.set(id, await projection(f.dim));
    return maps;
  }
  const [worstId, worst] = [...features.entries()].sort((a, b) => b[1].uniformity - a[1].uniformity)[0] as [
    number,
    { values: Float32Array; ids: Uint32Array; dim: number },
  ];
  const reference = tf.tidy(() =>
    referenceTargets(tf.tensor2d(worst.values, [worst.ids.length, worst.dim]), randomProjection(n, worst.dim, seed)),
  );
  const referenceBatch = { ids: worst.ids, dim: n, values: (await reference.data()) as Float32Array };
  reference.dispose();
  for (const [id, f] of features) {
    maps.set(
      id,
      id === worstId
        ? await projection(f.dim)
        : await solveAlignmentTask(f, referenceBatch, defaultAlignmentTask(seed)),
    );
  }
  return maps;
}

/** Targets for an ablation, row for row with the round's export (same sample ids, same prior per row). */
export async function ablationTargets(deps: Deps, roundId: number, ablation: TargetAblation): Promise<RoundTargets> {
  await initTfjs();
  const { db } = deps.database;
  const exported = await readRoundTargets(deps, roundId);
  const [row] = await db
    .select({ campaign: campaigns, dataset: datasets })
    .from(rounds)
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .innerJoin(datasets, eq(datasets.id, campaigns.datasetId))
    .where(eq(rounds.id, roundId));
  if (!row) throw new Error(`no round ${roundId}`);
  const scores = await db.select().from(priorScores).where(eq(priorScores.roundId, roundId));
  const features = new Map<number, { values: Float32Array; ids: Uint32Array; dim: number; uniformity: number }>();
  for (const s of scores)
    features.set(s.modelId, { ...decodeTargets(await deps.blobs.get(s.featuresBlobKey)), uniformity: s.uniformity });
  const n = exported.dim;
  const maps = await ablationMaps(features, ablation, n, row.campaign.seed);
  const priors = await db
    .select()
    .from(priorModels)
    .where(inArray(priorModels.id, [...features.keys()]));

  const targets = new Float32Array(exported.targets.length);
  let filled = 0;
  for (const prior of priors) {
    const rows = [...exported.priorIds.keys()].filter((i) => exported.priorIds[i] === prior.id);
    if (rows.length === 0) continue;
    const { values } = await priorOutputs(
      deps,
      prior,
      row.dataset,
      Int32Array.from(rows, (i) => exported.ids[i] as number),
      { map: maps.get(prior.id) as Float32Array, dim: n },
    );
    rows.forEach((r, k) => {
      targets.set(values.subarray(k * n, (k + 1) * n), r * n);
    });
    filled += rows.length;
  }
  if (filled !== exported.ids.length)
    throw new Error(
      `round ${roundId}: ${exported.ids.length - filled} rows were made by priors the round did not score`,
    );
  return { ...exported, targets };
}
