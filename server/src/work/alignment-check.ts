import { ALIGNMENT_RESIDUAL_TOLERANCE, checkAlignmentTask, decodeTargets } from '@coopt/shared/math';
import { and, eq } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { priorScores } from '../db/schema.ts';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { alignmentTaskOf, type LeaseContext } from './work-assignment.ts';

export interface AlignmentCheck {
  passed: boolean;
  residual: number;
  heldOutR2: number;
  /** The map as float32 [l, n] then [n]: what target work items download. */
  map: Float32Array;
  checkedRows: number;
  ms: number;
}

/**
 * The server's check of an align upload before it is accepted: the map must solve the round's
 * ridge problem on the shared set's fit rows, and its R^2 on the held-out rows is measured here
 * (never taken from the volunteer).
 */
export async function checkAlignmentUpload(
  deps: { database: Database; blobs: BlobStore },
  ctx: LeaseContext,
  blobKey: string,
): Promise<AlignmentCheck> {
  const started = performance.now();
  const [score] = await deps.database.db
    .select()
    .from(priorScores)
    .where(and(eq(priorScores.roundId, ctx.round.id), eq(priorScores.modelId, ctx.prior.id)))
    .limit(1);
  if (!score || !ctx.round.referenceBlobKey) throw new Error(`round ${ctx.round.id} has no features or reference yet`);
  const features = decodeTargets(await deps.blobs.get(score.featuresBlobKey));
  const reference = decodeTargets(await deps.blobs.get(ctx.round.referenceBlobKey));
  const map = decodeTargets(await deps.blobs.get(blobKey)).values;
  await initTfjs();
  const { residual, heldOutR2 } = await checkAlignmentTask(features, reference, alignmentTaskOf(ctx.campaign), map);
  return {
    passed: Number.isFinite(residual) && residual < ALIGNMENT_RESIDUAL_TOLERANCE,
    residual,
    heldOutR2,
    map,
    checkedRows: features.ids.length,
    ms: performance.now() - started,
  };
}
