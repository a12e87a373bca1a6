import * as tf from '@tensorflow/tfjs-core';

/**
 * SimCLR's NT-Xent loss (normalised temperature-scaled cross entropy) for two views of a batch:
 * rows i of `a` and `b` are the same image. Over the 2B L2-normalised projections z, each row's
 * logits are cos(z_i, z_j) / temperature against every other row (itself excluded), and its
 * positive is the other view of the same image; the loss is the mean cross entropy over 2B rows.
 */
export function ntXentLoss(a: tf.Tensor2D, b: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const rows = a.shape[0];
    const z = tf.concat([a, b], 0);
    const unit = tf.div(z, tf.maximum(tf.norm(z, 'euclidean', 1, true), 1e-8));
    const self = tf.mul(tf.eye(2 * rows), 1e9);
    const logits = tf.sub(tf.div(tf.matMul(unit, unit, false, true), temperature), self);
    const positive = tf.concat([tf.range(rows, 2 * rows, 1, 'int32'), tf.range(0, rows, 1, 'int32')]);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(positive, 2 * rows), logits) as tf.Scalar;
  });
}
