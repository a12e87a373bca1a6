import type { VerificationPolicy } from '@coopt/shared';
import {
  ALIGNMENT_RESIDUAL_TOLERANCE,
  applyAlignment,
  decodeTargets,
  encodeTargets,
  globalInconsistency,
  packAlignmentMap,
  randomProjection,
  referenceTargets,
  uniformityValue,
} from '@coopt/shared/math';
import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { alignments, campaigns, priorScores, results, rounds, shards, workItems } from '../db/schema.ts';
import { completeRound } from '../export/round-export.ts';
import { initTfjs, tf } from '../priors/tfjs-runtime.ts';
import { refreshClaimStatistics, rowsOf } from '../work/lease-scheduler.ts';
import { replicasOf, SHARED_SET_INDEX } from './create-campaign.ts';

type Deps = { database: Database; blobs: BlobStore };
type Round = typeof rounds.$inferSelect;

/** An alignment must beat predicting the mean on held-out rows to be used for targets. */
export const MIN_HELD_OUT_R2 = 0;

export interface RoundProgress {
  status: string;
  bestModelId?: number;
}

type Features = { ids: Uint32Array; values: Float32Array; dim: number; blobKey: string };

/**
 * Moves a round on after a settled work item: once the score phase is complete it publishes the
 * reference targets and opens the align items; once those are complete it opens the target items.
 */
export async function advanceRound(deps: Deps, roundId: number): Promise<RoundProgress> {
  const [round] = await deps.database.db.select().from(rounds).where(eq(rounds.id, roundId)).limit(1);
  if (round?.status === 'scoring') return publishReference(deps, round);
  if (round?.status === 'aligning') return startTargeting(deps, round);
  return { status: round?.status ?? 'missing' };
}

const phaseDone = async (deps: Deps, roundId: number, phase: 'score' | 'align') => {
  const [open] = rowsOf<{ pending: boolean }>(
    await deps.database.db.execute(
      sql`select exists (select 1 from work_items where round_id = ${roundId} and phase = ${phase}::work_phase and status <> 'done') as pending`,
    ),
  );
  return !open?.pending;
};

/** The round before this one in the same campaign, if any. */
async function previousRound(deps: Deps, round: Round): Promise<Round | undefined> {
  const [prev] = await deps.database.db
    .select()
    .from(rounds)
    .where(and(eq(rounds.campaignId, round.campaignId), eq(rounds.number, round.number - 1)))
    .limit(1);
  return prev;
}

/**
 * CoOpt steps 2-3, once every score item is settled: each prior's uniformity value (priors carried
 * from the previous round keep theirs), the best prior, and its features projected by the seeded W
 * as the reference targets S_Y*. Every other prior then needs its map T_k, fitted by a volunteer as
 * an align item; when the best prior is the previous round's, the reference is the same and so are
 * the earlier maps, which are carried over.
 */
async function publishReference(deps: Deps, round: Round): Promise<RoundProgress> {
  const { db } = deps.database;
  if (!(await phaseDone(deps, round.id, 'score'))) return { status: 'scoring' };
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, round.campaignId));
  if (!campaign) throw new Error(`round ${round.id} has no campaign`);

  const carried = await db.select().from(priorScores).where(eq(priorScores.roundId, round.id));
  const scored = await db
    .select({ modelId: workItems.modelId, blobKey: results.blobKey })
    .from(workItems)
    .innerJoin(results, and(eq(results.workItemId, workItems.id), eq(results.verified, true)))
    .where(and(eq(workItems.roundId, round.id), eq(workItems.phase, 'score')))
    .orderBy(asc(results.id));
  const features = new Map<number, Features>();
  for (const s of carried) features.set(s.modelId, await loadFeatures(deps, s.featuresBlobKey));
  for (const s of scored) if (!features.has(s.modelId)) features.set(s.modelId, await loadFeatures(deps, s.blobKey));

  await initTfjs();
  const scores = new Map<number, number>(carried.map((s) => [s.modelId, s.uniformity]));
  for (const [modelId, f] of features) {
    if (scores.has(modelId)) continue;
    const v = tf.tidy(() => uniformityValue(tf.tensor2d(f.values, [f.ids.length, f.dim])));
    scores.set(modelId, ((await v.data()) as Float32Array)[0] as number);
    v.dispose();
  }
  const bestModelId = [...scores.entries()].sort((a, b) => a[1] - b[1])[0]?.[0] as number;
  const best = features.get(bestModelId) as Features;
  const n = campaign.targetDim;

  const reference = tf.tidy(() =>
    referenceTargets(
      tf.tensor2d(best.values, [best.ids.length, best.dim]),
      randomProjection(n, best.dim, campaign.seed),
    ),
  );
  const referenceBlob = await deps.blobs.put(
    encodeTargets({ ids: best.ids, dim: n, values: (await reference.data()) as Float32Array }),
  );
  const wt = tf.tidy(() => tf.transpose(randomProjection(n, best.dim, campaign.seed)));
  const referenceMap = await deps.blobs.put(packMap((await wt.data()) as Float32Array, new Float32Array(n)));
  tf.dispose([reference, wt]);

  // Same best prior as last round, so the same S_Y*: the earlier maps still hold.
  const prev = await previousRound(deps, round);
  const keptMaps =
    prev?.bestModelId === bestModelId && prev.referenceBlobKey === referenceBlob.key
      ? (await db.select().from(alignments).where(eq(alignments.roundId, prev.id))).filter(
          (a) => !a.isReference && features.has(a.modelId),
        )
      : [];
  const toAlign = [...features.keys()].filter((id) => id !== bestModelId && !keptMaps.some((a) => a.modelId === id));
  const [shared] = await db
    .select()
    .from(shards)
    .where(and(eq(shards.campaignId, campaign.id), eq(shards.index, SHARED_SET_INDEX)));
  if (!shared) throw new Error(`campaign ${campaign.id} has no shared set`);

  await db.transaction(async (tx) => {
    const fresh = [...features.entries()].filter(([modelId]) => !carried.some((c) => c.modelId === modelId));
    if (fresh.length > 0) {
      await tx.insert(priorScores).values(
        fresh.map(([modelId, f]) => ({
          roundId: round.id,
          modelId,
          uniformity: scores.get(modelId) as number,
          featuresBlobKey: f.blobKey,
        })),
      );
    }
    await tx.insert(alignments).values([
      {
        roundId: round.id,
        modelId: bestModelId,
        mapBlobKey: referenceMap.key,
        isReference: true,
        heldOutR2: 1,
        residual: 0,
      },
      ...keptMaps.map((a) => ({ ...a, roundId: round.id, createdAt: undefined })),
    ]);
    if (toAlign.length > 0) {
      // One volunteer per map: the server's own check of the upload is exact, so no replicas are needed.
      await tx
        .insert(workItems)
        .values(
          toAlign.map((modelId) => ({ roundId: round.id, phase: 'align' as const, shardId: shared.id, modelId })),
        );
    }
    await tx
      .update(rounds)
      .set({ status: 'aligning', bestModelId, referenceBlobKey: referenceBlob.key })
      .where(eq(rounds.id, round.id));
  });
  if (toAlign.length === 0) return startTargeting(deps, { ...round, status: 'aligning' });
  return { status: 'aligning', bestModelId };
}

/**
 * CoOpt steps 4-5, once every map is in: G of Eq. 3 before alignment (each prior through a
 * projection of its own) and after (through its T_k), then target work. Each shard is targeted by
 * one usable prior, taken in turn, so every volunteer's prior contributes. Where the reference and
 * the maps are the previous round's, no target changes and every shard keeps its earlier result.
 */
async function startTargeting(deps: Deps, round: Round): Promise<RoundProgress> {
  const { db } = deps.database;
  if (!(await phaseDone(deps, round.id, 'align'))) return { status: 'aligning' };
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, round.campaignId));
  if (!campaign) throw new Error(`round ${round.id} has no campaign`);
  const [current] = await db.select().from(rounds).where(eq(rounds.id, round.id));
  if (current?.status !== 'aligning' || current.bestModelId === null) return { status: current?.status ?? 'missing' };
  const bestModelId = current.bestModelId;
  const policy = campaign.verificationPolicy as VerificationPolicy;
  const n = campaign.targetDim;

  const scores = await db.select().from(priorScores).where(eq(priorScores.roundId, round.id));
  const maps = await db.select().from(alignments).where(eq(alignments.roundId, round.id));
  await initTfjs();
  const unaligned: tf.Tensor2D[] = [];
  const aligned: tf.Tensor2D[] = [];
  for (const s of scores) {
    const f = await loadFeatures(deps, s.featuresBlobKey);
    const map = maps.find((m) => m.modelId === s.modelId);
    const x = tf.tensor2d(f.values, [f.ids.length, f.dim]);
    unaligned.push(tf.tidy(() => referenceTargets(x, randomProjection(n, f.dim, campaign.seed + s.modelId))));
    if (map) {
      const packed = new Float32Array(Uint8Array.from(await deps.blobs.get(map.mapBlobKey)).buffer);
      aligned.push(
        tf.tidy(() =>
          applyAlignment(x, {
            weights: tf.tensor2d(packed.subarray(0, f.dim * n), [f.dim, n]),
            bias: tf.tensor1d(packed.subarray(f.dim * n)),
          }),
        ),
      );
    }
    x.dispose();
  }
  const g = tf.tidy(() =>
    tf.stack([
      globalInconsistency(unaligned, { seed: campaign.seed }),
      globalInconsistency(aligned, { seed: campaign.seed }),
    ]),
  );
  const [inconsistencyBefore, inconsistencyAfter] = (await g.data()) as Float32Array;
  tf.dispose([...unaligned, ...aligned, g]);

  const usable = maps
    .filter(
      (m) =>
        m.isReference || ((m.heldOutR2 ?? -1) > MIN_HELD_OUT_R2 && (m.residual ?? 1) < ALIGNMENT_RESIDUAL_TOLERANCE),
    )
    .map((m) => m.modelId)
    .sort((a, b) => a - b);
  const prev = await previousRound(deps, round);
  const unchanged =
    prev?.status === 'complete' &&
    prev.bestModelId === bestModelId &&
    prev.referenceBlobKey === current.referenceBlobKey;

  await db.transaction(async (tx) => {
    if (unchanged) {
      await carryTargets(tx, prev, round.id);
    } else {
      const workShards = await tx
        .select()
        .from(shards)
        .where(and(eq(shards.campaignId, campaign.id), gte(shards.index, 0)))
        .orderBy(asc(shards.index));
      for (let i = 0; i < workShards.length; i += 1000) {
        await tx.insert(workItems).values(
          workShards.slice(i, i + 1000).map((s, j) => ({
            roundId: round.id,
            phase: 'target' as const,
            shardId: s.id,
            modelId: usable[(i + j) % usable.length] as number,
            replicasWanted: replicasOf(policy),
          })),
        );
      }
    }
    await tx
      .update(rounds)
      .set({ status: 'targeting', inconsistencyBefore, inconsistencyAfter })
      .where(eq(rounds.id, round.id));
  });
  if (unchanged) await completeRound(deps, round.id);
  else await refreshClaimStatistics(db);
  return { status: unchanged ? 'complete' : 'targeting', bestModelId };
}

type Tx = Parameters<Parameters<Database['db']['transaction']>[0]>[0];

/** Every target item of the previous round, done, with its verified results, marked with the round that made them. */
async function carryTargets(tx: Tx, prev: Round, roundId: number) {
  const items = await tx
    .select()
    .from(workItems)
    .where(and(eq(workItems.roundId, prev.id), eq(workItems.phase, 'target')))
    .orderBy(asc(workItems.id));
  for (const item of items) {
    const [copy] = await tx
      .insert(workItems)
      .values({
        roundId,
        phase: 'target',
        shardId: item.shardId,
        modelId: item.modelId,
        replicasWanted: item.replicasWanted,
        taken: item.taken,
        status: 'done',
        carriedFromRound: item.carriedFromRound ?? prev.number,
      })
      .returning({ id: workItems.id });
    const verified = await tx
      .select()
      .from(results)
      .where(and(eq(results.workItemId, item.id), eq(results.verified, true)));
    if (copy && verified.length > 0) {
      await tx.insert(results).values(
        // The verification was paid for in the earlier round, not again in this one.
        verified.map(({ id: _id, ...r }) => ({
          ...r,
          workItemId: copy.id,
          leaseId: null,
          checkedRows: 0,
          verifyMs: 0,
        })),
      );
    }
  }
}

async function loadFeatures(deps: Deps, blobKey: string): Promise<Features> {
  return { ...decodeTargets(await deps.blobs.get(blobKey)), blobKey };
}

/** float32 weights [l, n] followed by bias [n]. */
function packMap(weights: Float32Array, bias: Float32Array): Uint8Array {
  const out = packAlignmentMap(weights, bias);
  return new Uint8Array(out.buffer);
}
