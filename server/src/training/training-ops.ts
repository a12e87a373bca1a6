import * as tf from '@tensorflow/tfjs-core';

/**
 * Two training ops with hand-written gradients, the hot spots of a student's step on wasm:
 * - batch normalisation, whose reductions over N, H and W (forward and backward) are written as
 *   matrix products with a row of ones, which XNNPACK runs far faster than the backend's
 *   reductions over leading axes (a transpose, then a sum);
 * - 2x2, stride-2 max pooling, whose gradient is a mask of the maxima times the upsampled incoming
 *   gradient: the wasm backend's own MaxPoolGrad disagrees with the cpu backend (tests show it).
 * Both give the same values as tfjs-core's own ops; the tests compare their gradients.
 */

const onesColumns = new Map<number, tf.Tensor2D>();

/**
 * Sums of a [rows, cols] matrix over its rows, as m^T x ones[rows, 1] reshaped to [1, cols]. With the
 * big matrix as the product's left operand XNNPACK streams it as is; as the right operand it would
 * be packed again for every new tensor. The ones column is made once per row count.
 */
function columnSums(m: tf.Tensor2D): tf.Tensor2D {
  const [rows, cols] = m.shape;
  let ones = onesColumns.get(rows);
  if (!ones) {
    ones = tf.keep(tf.ones([rows, 1]) as tf.Tensor2D);
    onesColumns.set(rows, ones);
  }
  return tf.reshape(tf.matMul(m, ones, true, false), [1, cols]);
}

export interface BatchStatistics {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch normalisation of NHWC `x` over N, H, W: gamma * (x - mean) / sqrt(var + eps) + beta,
 * with the batch's (biased) statistics, which `onStatistics` receives (kept; the caller disposes them).
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
    const [xIn, gIn, bIn, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const x2 = tf.reshape(xIn, [rows, c]) as tf.Tensor2D;
    const mean = tf.div(columnSums(x2), rows);
    const centred = tf.sub(x2, mean);
    const variance = tf.div(columnSums(tf.square(centred) as tf.Tensor2D), rows);
    const rstd = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(centred, rstd) as tf.Tensor2D;
    onStatistics({ mean: tf.keep(tf.reshape(mean, [c])), variance: tf.keep(tf.reshape(variance, [c])) });
    save([xhat, rstd, gIn]);
    return {
      value: tf.reshape(tf.add(tf.mul(xhat, gIn), bIn), [n, h, w, c]),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sXhat, sRstd, sGamma] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const dy2 = tf.reshape(dy as tf.Tensor, [rows, c]) as tf.Tensor2D;
        const dBeta = columnSums(dy2);
        const dGamma = columnSums(tf.mul(dy2, sXhat) as tf.Tensor2D);
        // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
        const inner = tf.sub(tf.sub(dy2, tf.div(dBeta, rows)), tf.mul(sXhat, tf.div(dGamma, rows)));
        const dx = tf.mul(inner, tf.mul(sRstd, sGamma));
        return [tf.reshape(dx, [n, h, w, c]), tf.reshape(dGamma, [c]), tf.reshape(dBeta, [c])];
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
        // Each window's maximum and gradient, repeated over its 2x2 inputs (a broadcast product,
        // cheaper on wasm than nearest-neighbour resizing).
        const up = (t: tf.Tensor4D) =>
          tf.reshape(tf.mul(tf.reshape(t, [b, h / 2, 1, w / 2, 1, c]), tf.ones([1, 1, 2, 1, 2, 1])), [b, h, w, c]);
        // Where an input equals its window's maximum it receives that window's gradient. The
        // maximum minus the input is zero there and positive elsewhere, so step() marks the inputs
        // that get nothing (on wasm, step and two plain products are several times faster than
        // equal, cast, or a subtraction from a broadcast scalar).
        const spread = up(dy as tf.Tensor4D);
        return [tf.sub(spread, tf.mul(spread, tf.step(tf.sub(up(sy), sx))))];
      },
    };
  });
  return op(x) as tf.Tensor4D;
}
