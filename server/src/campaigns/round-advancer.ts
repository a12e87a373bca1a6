import type { VerificationPolicy } from '@coopt/shared';
import {
  applyAlignment,
  decodeTargets,
  encodeTargets,
  fitAlignment,
  globalInconsistency,
  heldOutR2,
  randomProjection,
  referenceTargets,
  SeededRandom,
  uniformityValue,
} from '@coopt/shared/math';
import { and, asc, eq, gte } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import {
  alignments,
  campaignModels,
  campaigns,
  priorScores,
  results,
  rounds,
  shards,
  workItems,
} from '../db/schema.ts';
import { initTfjs, tf } from '../priors/tfjs-runtime.ts';
import { replicasOf } from './create-campaign.ts';

type Deps = { database: Database; blobs: BlobStore };

/** Share of the shared set held out to check each alignment; the rest fits it. */
export const HELD_OUT_FRACTION = 0.2;
/** An alignment must beat predicting the mean on held-out rows to be used for targets. */
export const MIN_HELD_OUT_R2 = 0;

export interface RoundProgress {
  status: string;
  bestModelId?: number;
}

/**
 * Moves a round on once its score phase is complete (CoOpt steps 2-4): replicas must agree, each
 * prior gets its uniformity value, the best prior's features projected by W become the reference
 * targets S_Y*, every other prior's map T_k is fitted on most of the shared set and checked on
 * the rest, and target work items are created for every shard.
 */
export async function advanceRound(deps: Deps, roundId: number): Promise<RoundProgress> {
  const { db } = deps.database;
  const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId)).limit(1);
  if (round?.status !== 'scoring') return { status: round?.status ?? 'missing' };
  const items = await db
    .select()
    .from(workItems)
    .where(and(eq(workItems.roundId, roundId), eq(workItems.phase, 'score')));
  if (items.some((i) => i.status !== 'done')) return { status: 'scoring' };
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, round.campaignId));
  if (!campaign) throw new Error(`round ${roundId} has no campaign`);
  const policy = campaign.verificationPolicy as VerificationPolicy;

  // Every score item is settled: its verified upload holds the prior's features on the shared set.
  const features = new Map<number, { ids: Uint32Array; values: Float32Array; dim: number; blobKey: string }>();
  for (const item of items) {
    const [chosen] = await db
      .select()
      .from(results)
      .where(and(eq(results.workItemId, item.id), eq(results.verified, true)))
      .orderBy(asc(results.id))
      .limit(1);
    if (!chosen) return { status: 'scoring' };
    features.set(item.modelId, { ...decodeTargets(await deps.blobs.get(chosen.blobKey)), blobKey: chosen.blobKey });
  }

  await initTfjs();
  const scores = new Map<number, number>();
  for (const [modelId, f] of features) {
    const v = tf.tidy(() => uniformityValue(tf.tensor2d(f.values, [f.ids.length, f.dim])));
    scores.set(modelId, ((await v.data()) as Float32Array)[0] as number);
    v.dispose();
  }
  const bestModelId = [...scores.entries()].sort((a, b) => a[1] - b[1])[0]?.[0] as number;
  const best = features.get(bestModelId) as { ids: Uint32Array; values: Float32Array; dim: number };
  const n = campaign.targetDim;
  const projectionSeed = campaign.seed + round.number;

  const fBest = tf.tensor2d(best.values, [best.ids.length, best.dim]);
  const w = randomProjection(n, best.dim, projectionSeed);
  const sy = referenceTargets(fBest, w);
  const syValues = (await sy.data()) as Float32Array;
  const reference = await deps.blobs.put(encodeTargets({ ids: best.ids, dim: n, values: syValues }));

  // The same held-out rows for every prior: a seeded permutation of the shared set.
  const m = best.ids.length;
  const order = new SeededRandom(projectionSeed).permutation(m);
  const heldCount = Math.max(1, Math.round(m * HELD_OUT_FRACTION));
  const heldIdx = tf.tensor1d(order.slice(0, heldCount), 'int32');
  const fitIdx = tf.tensor1d(order.slice(heldCount), 'int32');

  const alignRows: (typeof alignments.$inferInsert)[] = [];
  const usable: number[] = [];
  // Eq. 3 before alignment: each prior's features mapped to n dimensions by a projection of its own.
  const unaligned: tf.Tensor2D[] = [...features.entries()].map(([modelId, f]) =>
    tf.tidy(() =>
      referenceTargets(tf.tensor2d(f.values, [m, f.dim]), randomProjection(n, f.dim, projectionSeed + modelId)),
    ),
  );
  const aligned: tf.Tensor2D[] = [tf.clone(sy)];
  for (const [modelId, f] of features) {
    if (modelId === bestModelId) {
      const wt = (await tf.transpose(w).data()) as Float32Array;
      alignRows.push({
        roundId,
        modelId,
        mapBlobKey: (await deps.blobs.put(packMap(wt, new Float32Array(n)))).key,
        isReference: true,
        heldOutR2: 1,
        residual: 0,
      });
      usable.push(modelId);
      continue;
    }
    const all = tf.tensor2d(f.values, [m, f.dim]);
    const fFit = tf.gather(all, fitIdx);
    const yFit = tf.gather(sy, fitIdx);
    const fit = await fitAlignment(fFit as tf.Tensor2D, yFit as tf.Tensor2D);
    const r2t = heldOutR2(tf.gather(all, heldIdx) as tf.Tensor2D, tf.gather(sy, heldIdx) as tf.Tensor2D, fit);
    const r2 = ((await r2t.data()) as Float32Array)[0] as number;
    const map = packMap((await fit.weights.data()) as Float32Array, (await fit.bias.data()) as Float32Array);
    alignRows.push({
      roundId,
      modelId,
      mapBlobKey: (await deps.blobs.put(map)).key,
      isReference: false,
      heldOutR2: r2,
      residual: fit.relativeResidual,
    });
    if (r2 > MIN_HELD_OUT_R2 && fit.relativeResidual < 1e-3) usable.push(modelId);
    aligned.push(applyAlignment(all, fit));
    tf.dispose([all, fFit, yFit, fit.weights, fit.bias, r2t]);
  }
  const gBefore = globalInconsistency(unaligned, { seed: projectionSeed });
  const gAfter = globalInconsistency(aligned, { seed: projectionSeed });
  const inconsistencyBefore = ((await gBefore.data()) as Float32Array)[0] as number;
  const inconsistencyAfter = ((await gAfter.data()) as Float32Array)[0] as number;
  tf.dispose([...unaligned, ...aligned, gBefore, gAfter]);
  tf.dispose([fBest, w, sy, heldIdx, fitIdx]);

  const workShards = await db
    .select()
    .from(shards)
    .where(and(eq(shards.campaignId, campaign.id), gte(shards.index, 0)))
    .orderBy(asc(shards.index));
  const priorOrder = (await db.select().from(campaignModels).where(eq(campaignModels.campaignId, campaign.id)))
    .map((c) => c.modelId)
    .filter((id) => usable.includes(id))
    .sort((a, b) => a - b);
  await db.transaction(async (tx) => {
    await tx.insert(priorScores).values(
      [...features.entries()].map(([modelId, f]) => ({
        roundId,
        modelId,
        uniformity: scores.get(modelId) as number,
        featuresBlobKey: f.blobKey,
      })),
    );
    await tx.insert(alignments).values(alignRows);
    // Each shard is targeted by one prior, taken in turn, so every volunteer's prior contributes.
    for (let i = 0; i < workShards.length; i += 1000) {
      await tx.insert(workItems).values(
        workShards.slice(i, i + 1000).map((s, j) => ({
          roundId,
          phase: 'target' as const,
          shardId: s.id,
          modelId: priorOrder[(i + j) % priorOrder.length] as number,
          replicasWanted: replicasOf(policy),
        })),
      );
    }
    await tx
      .update(rounds)
      .set({
        status: 'targeting',
        bestModelId,
        referenceBlobKey: reference.key,
        inconsistencyBefore,
        inconsistencyAfter,
      })
      .where(eq(rounds.id, roundId));
  });
  return { status: 'targeting', bestModelId };
}

/** float32 weights [l, n] followed by bias [n]. */
function packMap(weights: Float32Array, bias: Float32Array): Uint8Array {
  const out = new Float32Array(weights.length + bias.length);
  out.set(weights, 0);
  out.set(bias, weights.length);
  return new Uint8Array(out.buffer);
}
