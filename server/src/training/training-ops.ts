import * as tf from '@tensorflow/tfjs-core';

/**
 * Two training ops with hand-written gradients, the hot spots of a student's step on wasm:
 * - batch normalisation, whose reductions over N, H and W (forward and backward) are written as
 *   matrix products with a row of ones, which run far faster on wasm than the backend's
 *   reductions over leading axes (a transpose, then a sum);
 * - 2x2, stride-2 max pooling, whose gradient is a mask of the maxima times the upsampled incoming
 *   gradient: the wasm backend's own MaxPoolGrad disagrees with the cpu backend (tests show it).
 * Both give the same values as tfjs-core's own ops; the tests compare their gradients.
 */

const onesRows = new Map<number, tf.Tensor2D>();

/**
 * Sums of a [rows, cols] matrix over its rows, as ones[1, rows] x m. On wasm the project's SIMD
 * product (`wasm-matmul-kernel.ts`) streams m once, in place. The ones row is made once per row count.
 */
function columnSums(m: tf.Tensor2D): tf.Tensor2D {
  const [rows] = m.shape;
  let ones = onesRows.get(rows);
  if (!ones) {
    ones = tf.keep(tf.ones([1, rows]) as tf.Tensor2D);
    onesRows.set(rows, ones);
  }
  return tf.matMul(ones, m);
}

export interface BatchStatistics {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch normalisation of NHWC `x` over N, H, W: gamma * (x - mean) / sqrt(var + eps) + beta,
 * with the batch's (biased) statistics, which `onStatistics` receives (kept; the caller disposes them).
 *
 * Each pass over the activations counts on wasm, so both directions use as few as they can, and
 * only plain products and sums (the backend's fused batch-norm kernel is several times slower
 * than two of them):
 * - forward: the statistics (squared deviations from the mean in one pass; two column sums), then
 *   x * scale + shift with scale = gamma * rstd and shift = beta - mean * scale per channel;
 * - backward, from x itself rather than a saved x-hat: with a = gamma * rstd,
 *   dGamma = rstd * (sum(dy * x) - mean * dBeta), and
 *   dx = a * (dy - dBeta / rows - xhat * dGamma / rows) = (a * dy + b * x) + c per channel,
 *   b = -a * rstd * dGamma / rows, c = -a * dBeta / rows - b * mean.
 */
export function batchNormTraining(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  onStatistics: (s: BatchStatistics) => void,
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const rows = n * h * w;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, gIn, bIn, save] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const x2 = tf.reshape(xIn, [rows, c]) as tf.Tensor2D;
    const mean = tf.div(columnSums(x2), rows) as tf.Tensor2D;
    const variance = tf.div(columnSums(tf.squaredDifference(x2, mean) as tf.Tensor2D), rows) as tf.Tensor2D;
    const mean1 = tf.reshape(mean, [c]) as tf.Tensor1D;
    const variance1 = tf.reshape(variance, [c]) as tf.Tensor1D;
    onStatistics({ mean: tf.keep(mean1), variance: tf.keep(variance1) });
    const rstd = tf.rsqrt(tf.add(variance1, epsilon)) as tf.Tensor1D;
    save([xIn, mean1, rstd, gIn]);
    const scale = tf.mul(gIn, rstd);
    return {
      value: tf.add(tf.mul(xIn, scale), tf.sub(bIn, tf.mul(mean1, scale))) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sMean, sRstd, sGamma] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const dy4 = dy as tf.Tensor4D;
        const dBeta = tf.reshape(columnSums(tf.reshape(dy4, [rows, c]) as tf.Tensor2D), [c]) as tf.Tensor1D;
        const dyx = tf.reshape(columnSums(tf.reshape(tf.mul(dy4, sx), [rows, c]) as tf.Tensor2D), [c]);
        const dGamma = tf.mul(sRstd, tf.sub(dyx, tf.mul(sMean, dBeta))) as tf.Tensor1D;
        const a = tf.mul(sGamma, sRstd);
        const b = tf.div(tf.mul(tf.neg(a), tf.mul(sRstd, dGamma)), rows) as tf.Tensor1D;
        const cShift = tf.sub(tf.div(tf.mul(tf.neg(a), dBeta), rows), tf.mul(b, sMean)) as tf.Tensor1D;
        const dx = tf.add(tf.add(tf.mul(dy4, a), tf.mul(sx, b)), cShift) as tf.Tensor4D;
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/**
 * 2x2 max pooling with stride 2 ('same' padding). An odd-sized map is padded at its end with the
 * lowest float, which is what 'same' pooling does, so every size takes the mask gradient.
 */
export function maxPool2x2(x: tf.Tensor4D): tf.Tensor4D {
  const [, height, width] = x.shape;
  if (height % 2 !== 0 || width % 2 !== 0)
    return maxPool2x2(
      tf.pad(
        x,
        [
          [0, 0],
          [0, height % 2],
          [0, width % 2],
          [0, 0],
        ],
        -3.4e38,
      ),
    );
  const [, h, w] = x.shape;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const y = tf.maxPool(xIn as tf.Tensor4D, 2, 2, 'same');
    save([xIn, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sy] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [b, , , c] = sx.shape;
        // Each input beside its window's maximum and gradient: the windows as [b, h/2, 2, w/2, 2, c],
        // the pooled maps as [b, h/2, 1, w/2, 1, c], which broadcast over them.
        const windows = tf.reshape(sx, [b, h / 2, 2, w / 2, 2, c]);
        const pooled = (t: tf.Tensor) => tf.reshape(t, [b, h / 2, 1, w / 2, 1, c]);
        // Where an input equals its window's maximum it receives that window's gradient. The
        // maximum minus the input is zero there and positive elsewhere, so step() marks the inputs
        // that get nothing (on wasm, step and two plain products are several times faster than
        // equal, cast, or a subtraction from a broadcast scalar).
        const missed = tf.step(tf.sub(pooled(sy), windows));
        const spread = pooled(dy as tf.Tensor);
        return [tf.reshape(tf.sub(spread, tf.mul(spread, missed)), [b, h, w, c])];
      },
    };
  });
  return op(x) as tf.Tensor4D;
}
