import type { GraphModelJson } from '@coopt/shared/converter';
import { compareOutputs } from '@coopt/shared/converter';
import { decodeTargets, SeededRandom } from '@coopt/shared/math';
import { and, eq } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import { readSamplesByIds } from '../datasets/dataset-samples.ts';
import type { Database } from '../db/database.ts';
import { alignments, type results, volunteers } from '../db/schema.ts';
import { priorInputMeta } from '../priors/prior-views.ts';
import { runPrior } from './prior-runner.ts';
import type { LeaseContext } from './work-assignment.ts';

export interface SpotCheckResult {
  passed: boolean;
  checkedRows: number;
  ms: number;
}

/**
 * Recomputes a random sample of an upload's rows on the server and compares them. Volunteers with
 * lower reputation get proportionally more rows checked (rate / reputation, at least one row).
 */
export async function spotCheck(
  deps: { database: Database; blobs: BlobStore },
  ctx: LeaseContext,
  result: typeof results.$inferSelect,
  policy: { rate: number; tolerance: number },
): Promise<SpotCheckResult> {
  const started = performance.now();
  const [volunteer] = await deps.database.db.select().from(volunteers).where(eq(volunteers.id, result.volunteerId));
  const reputation = Math.max(0.05, volunteer?.reputation ?? 1);
  const uploaded = decodeTargets(await deps.blobs.get(result.blobKey));
  const rows = uploaded.ids.length;
  const count = Math.min(rows, Math.max(1, Math.ceil((rows * policy.rate) / reputation)));
  const picked = Array.from(new SeededRandom(result.id).permutation(rows).subarray(0, count)).sort((a, b) => a - b);

  const ids = Int32Array.from(picked, (i) => uploaded.ids[i] as number);
  const pixels = await readSamplesByIds(deps, ctx.dataset, ids);
  let alignment: { map: Float32Array; dim: number } | undefined;
  if (ctx.item.phase === 'target') {
    const [fit] = await deps.database.db
      .select()
      .from(alignments)
      .where(and(eq(alignments.roundId, ctx.round.id), eq(alignments.modelId, ctx.prior.id)));
    if (fit)
      alignment = {
        map: new Float32Array(Uint8Array.from(await deps.blobs.get(fit.mapBlobKey)).buffer),
        dim: ctx.rowDim,
      };
  }
  const modelJson = JSON.parse(
    new TextDecoder().decode(await deps.blobs.get(ctx.prior.graphModelBlobKey as string)),
  ) as GraphModelJson;
  const weightData = await deps.blobs.get(ctx.prior.weightsBlobKey as string);
  const recomputed = await runPrior({
    artifacts: { modelJson, weightData },
    meta: priorInputMeta(ctx.prior),
    pixels,
    shape: [count, ctx.dataset.height, ctx.dataset.width, ctx.dataset.channels],
    alignment,
  });
  const dim = uploaded.dim;
  const claimed = new Float32Array(count * dim);
  picked.forEach((row, k) => {
    claimed.set(uploaded.values.subarray(row * dim, (row + 1) * dim), k * dim);
  });
  const passed = compareOutputs(recomputed, claimed).relError <= policy.tolerance;
  return { passed, checkedRows: count, ms: performance.now() - started };
}
