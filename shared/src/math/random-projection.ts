import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from './seeded-random.ts';

/**
 * CoOpt step 3: the projection W (n x l) that maps the best prior's features to n-dimensional
 * reference targets, S_Y* = F_* W^T. Entries are N(0, 1/n) from the campaign seed; W is the
 * identity when l == n.
 */
export function randomProjection(n: number, l: number, seed: number): tf.Tensor2D {
  if (n === l) return tf.eye(n) as tf.Tensor2D;
  const rng = new SeededRandom(seed);
  const scale = 1 / Math.sqrt(n);
  const w = new Float32Array(n * l);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * scale;
  return tf.tensor2d(w, [n, l]);
}

/** S_Y* = F_* W^T */
export function referenceTargets(features: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(features, w, false, true);
}
