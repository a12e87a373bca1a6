import { SeededRandom } from '@coopt/shared/math';
import * as tf from '@tensorflow/tfjs-core';
import { yieldToEventLoop } from './yield-to-event-loop.ts';

export interface ProbeData {
  features: Float32Array;
  labels: Int32Array;
  dim: number;
}

export interface ProbeResult {
  accuracy: number;
  seed: number;
}

/**
 * The linear probe: a logistic-regression head (softmax over the classes, L2-regularised) trained
 * by Adam on frozen features of the labelled training split, scored by accuracy on the test split.
 * Features are standardised with the training split's statistics.
 */
export async function linearProbe(
  train: ProbeData,
  test: ProbeData,
  options: { classes: number; seed: number; epochs?: number; learningRate?: number; l2?: number },
): Promise<ProbeResult> {
  const epochs = options.epochs ?? 100;
  const d = train.dim;
  const k = options.classes;
  const [mean, std, xTrain, yTrain, xTest] = tf.tidy(() => {
    const x = tf.tensor2d(train.features, [train.labels.length, d]);
    const { mean, variance } = tf.moments(x, 0);
    const std = tf.sqrt(tf.add(variance, 1e-6));
    return [
      mean,
      std,
      tf.div(tf.sub(x, mean), std),
      tf.oneHot(tf.tensor1d(train.labels, 'int32'), k),
      tf.div(tf.sub(tf.tensor2d(test.features, [test.labels.length, d]), mean), std),
    ];
  });
  const w = tf.variable(tf.randomNormal([d, k], 0, 0.01, 'float32', options.seed));
  const b = tf.variable(tf.zeros([k]));
  const optimizer = tf.train.adam(options.learningRate ?? 0.01);
  try {
    for (let e = 0; e < epochs; e++) {
      if (e % 10 === 0) await yieldToEventLoop();
      tf.tidy(() => {
        optimizer.minimize(
          () =>
            tf.add(
              tf.losses.softmaxCrossEntropy(yTrain, tf.add(tf.matMul(xTrain, w), b)),
              tf.mul(options.l2 ?? 1e-4, tf.sum(tf.square(w))),
            ) as tf.Scalar,
        );
      });
    }
    const predicted = tf.tidy(() => tf.argMax(tf.add(tf.matMul(xTest, w), b), 1));
    const p = (await predicted.data()) as Int32Array;
    predicted.dispose();
    let correct = 0;
    for (let i = 0; i < p.length; i++) if (p[i] === test.labels[i]) correct++;
    return { accuracy: correct / test.labels.length, seed: options.seed };
  } finally {
    tf.dispose([mean, std, xTrain, yTrain, xTest, w, b]);
    optimizer.dispose();
  }
}

/** Mean and sample standard deviation. */
export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/**
 * The probe as runs report it: the labelled images' features cut 80/20 by the seed into the
 * probe's train and test parts, then `linearProbe`. Each seed cuts differently.
 */
export async function probeAccuracy(
  features: Float32Array,
  dim: number,
  labels: Int32Array,
  classes: number,
  seed: number,
): Promise<number> {
  const count = labels.length;
  const order = new SeededRandom(seed).permutation(count);
  const cut = Math.floor(count * 0.8);
  const part = (rows: Int32Array): ProbeData => {
    const f = new Float32Array(rows.length * dim);
    rows.forEach((r, k) => {
      f.set(features.subarray(r * dim, (r + 1) * dim), k * dim);
    });
    return { features: f, labels: Int32Array.from(rows, (r) => labels[r] as number), dim };
  };
  return (await linearProbe(part(order.subarray(0, cut)), part(order.subarray(cut)), { classes, seed })).accuracy;
}

/** The probe with every seed: the accuracies, their mean and sample standard deviation, and how many images. */
export async function probeAllSeeds(
  features: Float32Array,
  dim: number,
  labels: Int32Array,
  classes: number,
  seeds: number[],
): Promise<{ accuracies: number[]; mean: number; std: number; images: number }> {
  const accuracies: number[] = [];
  for (const seed of seeds) accuracies.push(await probeAccuracy(features, dim, labels, classes, seed));
  return { accuracies, ...meanStd(accuracies), images: labels.length };
}
