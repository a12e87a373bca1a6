import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from './seeded-random.ts';

export interface InconsistencyOptions {
  directions?: number;
  bins?: number;
  seed?: number;
}

/** Unit directions in R^n, one per column, from a seed. */
export function projectionDirections(n: number, count: number, seed: number): tf.Tensor2D {
  const rng = new SeededRandom(seed);
  const d = new Float32Array(n * count);
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  return tf.tidy(() => {
    const raw = tf.tensor2d(d, [n, count]);
    return tf.div(raw, tf.norm(raw, 'euclidean', 0, true)) as tf.Tensor2D;
  });
}

/**
 * CoOpt Eq. 3, global inconsistency G: the mean pairwise total-variation distance between the
 * participants' target distributions. High-dimensional TV is estimated on 1-D random projections:
 * for each direction, every participant's projected targets are histogrammed over a common range,
 * TV(p, q) = 1/2 sum |p - q|, and G averages over directions and pairs.
 */
export function globalInconsistency(participants: tf.Tensor2D[], options: InconsistencyOptions = {}): tf.Scalar {
  if (participants.length < 2) return tf.scalar(0);
  const n = participants[0]?.shape[1] as number;
  const count = options.directions ?? 16;
  const bins = options.bins ?? 32;
  return tf.tidy(() => {
    const dirs = projectionDirections(n, count, options.seed ?? 1);
    const projected = participants.map((y) => tf.matMul(y, dirs));
    const all = tf.concat(projected, 0);
    const lo = tf.min(all, 0);
    const width = tf.maximum(tf.sub(tf.max(all, 0), lo), 1e-12);
    const hists = projected.map((p) => {
      const idx = tf.clipByValue(tf.floor(tf.mul(tf.div(tf.sub(p, lo), width), bins)), 0, bins - 1);
      // [m, count] bin indices -> [count, bins] normalised histograms.
      const oneHot = tf.oneHot(tf.cast(tf.transpose(idx), 'int32'), bins);
      return tf.div(tf.sum(oneHot, 1), p.shape[0]);
    });
    const tvs: tf.Tensor[] = [];
    for (let i = 0; i < hists.length; i++) {
      for (let j = i + 1; j < hists.length; j++) {
        tvs.push(tf.mul(0.5, tf.sum(tf.abs(tf.sub(hists[i] as tf.Tensor, hists[j] as tf.Tensor)), 1)));
      }
    }
    return tf.mean(tf.stack(tvs)) as tf.Scalar;
  });
}
