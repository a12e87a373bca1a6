import * as tf from '@tensorflow/tfjs-core';

/** The temperature of the uniformity value (Wang & Isola 2020), as in CoOpt. */
export const UNIFORMITY_T = 2;

/**
 * CoOpt Eq. 4, uniformity value of a prior on the shared set:
 *   V = log( mean_{i != j} exp(-t * ||u_i - u_j||^2) ),  u_i = f_i / ||f_i||,  t = 2.
 * The paper prints the exponent without its minus sign, a known typo. Lower is better.
 * For unit vectors ||u_i - u_j||^2 = 2 - 2 u_i.u_j, so one Gram matrix gives every pair.
 */
export function uniformityValue(features: tf.Tensor2D, t = UNIFORMITY_T): tf.Scalar {
  return tf.tidy(() => {
    const m = features.shape[0];
    if (m < 2) throw new Error('the uniformity value needs at least two feature vectors');
    const u = tf.div(features, tf.maximum(tf.norm(features, 'euclidean', 1, true), 1e-12));
    const gram = tf.matMul(u, u, false, true);
    const sq = tf.maximum(tf.sub(2, tf.mul(2, gram)), 0);
    const k = tf.exp(tf.mul(-t, sq));
    // Drop the diagonal (i == j), where exp(0) = 1 for every row.
    const offDiagonal = tf.sub(tf.sum(k), tf.sum(tf.mul(k, tf.eye(m))));
    return tf.log(tf.div(offDiagonal, m * (m - 1))) as tf.Scalar;
  });
}
