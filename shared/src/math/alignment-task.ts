import * as tf from '@tensorflow/tfjs-core';
import { alignmentResidual, DEFAULT_RIDGE_LAMBDA, fitAlignment, heldOutR2 } from './ridge-alignment.ts';
import { SeededRandom } from './seeded-random.ts';
import type { TargetBatch } from './target-codec.ts';

/** Share of the shared set held out to check each alignment; the rest fits it. */
export const HELD_OUT_FRACTION = 0.2;

/**
 * How far an uploaded map T_k may be from the ridge solution, as the normal equations' relative
 * residual. An honest float32 conjugate-gradient fit lands near 1e-5; one weight nudged by a few
 * percent of the map's scale already lands above 5e-3.
 */
export const ALIGNMENT_RESIDUAL_TOLERANCE = 1e-3;

/** Which shared-set rows fit an alignment and which check it. */
export interface AlignmentSplit {
  fit: Int32Array;
  heldOut: Int32Array;
}

/** What an align work item needs beyond the two matrices; the server and the volunteer use the same values. */
export interface AlignmentTask {
  splitSeed: number;
  heldOutFraction: number;
  lambda: number;
}

export const defaultAlignmentTask = (splitSeed: number): AlignmentTask => ({
  splitSeed,
  heldOutFraction: HELD_OUT_FRACTION,
  lambda: DEFAULT_RIDGE_LAMBDA,
});

/** A seeded permutation of the shared set's rows, cut into held-out rows and fit rows; the same for every prior. */
export function alignmentSplit(
  rows: number,
  task: Pick<AlignmentTask, 'splitSeed' | 'heldOutFraction'>,
): AlignmentSplit {
  const order = new SeededRandom(task.splitSeed).permutation(rows);
  const held = Math.min(rows - 1, Math.max(1, Math.round(rows * task.heldOutFraction)));
  return { heldOut: order.slice(0, held), fit: order.slice(held) };
}

/** The rows of an align upload: T_k's l rows, then the bias as row l. */
export function packAlignmentMap(weights: Float32Array, bias: Float32Array): Float32Array {
  const out = new Float32Array(weights.length + bias.length);
  out.set(weights, 0);
  out.set(bias, weights.length);
  return out;
}

function matrices(features: TargetBatch, reference: TargetBatch) {
  const m = features.ids.length;
  if (reference.ids.length !== m)
    throw new Error(`features have ${m} rows but the reference has ${reference.ids.length}`);
  for (let i = 0; i < m; i++) {
    if (features.ids[i] !== reference.ids[i])
      throw new Error(`row ${i} is sample ${features.ids[i]} in the features but ${reference.ids[i]} in the reference`);
  }
  return {
    f: tf.tensor2d(features.values, [m, features.dim]),
    y: tf.tensor2d(reference.values, [m, reference.dim]),
  };
}

/**
 * An align work item (CoOpt step 4), as a volunteer runs it: fit T_k from prior k's features on the
 * shared set to the reference targets S_Y*, on the split's fit rows only. Returns the packed map,
 * [l + 1, n] rows: T_k, then the bias.
 */
export async function solveAlignmentTask(
  features: TargetBatch,
  reference: TargetBatch,
  task: AlignmentTask,
): Promise<Float32Array> {
  const { f, y } = matrices(features, reference);
  const split = alignmentSplit(features.ids.length, task);
  const rows = tf.tensor1d(split.fit, 'int32');
  const fFit = tf.gather(f, rows) as tf.Tensor2D;
  const yFit = tf.gather(y, rows) as tf.Tensor2D;
  try {
    const fit = await fitAlignment(fFit, yFit, { lambda: task.lambda });
    const map = packAlignmentMap((await fit.weights.data()) as Float32Array, (await fit.bias.data()) as Float32Array);
    tf.dispose([fit.weights, fit.bias]);
    return map;
  } finally {
    tf.dispose([f, y, rows, fFit, yFit]);
  }
}

/**
 * The server's check of an uploaded map before it is accepted: how far it is from the ridge solution
 * on the fit rows (a few matrix products, no solve), and its R^2 on the held-out rows.
 */
export async function checkAlignmentTask(
  features: TargetBatch,
  reference: TargetBatch,
  task: AlignmentTask,
  map: Float32Array,
): Promise<{ residual: number; heldOutR2: number }> {
  const l = features.dim;
  const n = reference.dim;
  if (map.length !== (l + 1) * n) throw new Error(`the map has ${map.length} values; [${l + 1}, ${n}] was expected`);
  const { f, y } = matrices(features, reference);
  const split = alignmentSplit(features.ids.length, task);
  const fit = { weights: tf.tensor2d(map.subarray(0, l * n), [l, n]), bias: tf.tensor1d(map.subarray(l * n)) };
  const scores = tf.tidy(() => {
    const fitRows = tf.tensor1d(split.fit, 'int32');
    const heldRows = tf.tensor1d(split.heldOut, 'int32');
    return tf.stack([
      alignmentResidual(tf.gather(f, fitRows) as tf.Tensor2D, tf.gather(y, fitRows) as tf.Tensor2D, fit, task.lambda),
      heldOutR2(tf.gather(f, heldRows) as tf.Tensor2D, tf.gather(y, heldRows) as tf.Tensor2D, fit),
    ]);
  });
  const [residual, r2] = (await scores.data()) as Float32Array;
  tf.dispose([f, y, fit.weights, fit.bias, scores]);
  return { residual: residual as number, heldOutR2: r2 as number };
}
