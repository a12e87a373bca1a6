import { SeededRandom } from '@coopt/shared/math';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Student encoders for training on a round's targets: a plain ConvNet and a small ResNet, written
 * on tfjs-core ops so they train on any backend (wasm with the project's kernels, WebGPU, cpu).
 * Convolutions are stride 1; downsampling is by pooling.
 */
export type StudentArchitecture = 'convnet' | 'resnet';

export interface Student {
  architecture: StudentArchitecture;
  featureDim: number;
  /** Every variable the optimiser updates. */
  trainable: tf.Variable[];
  /** Weights that take decoupled weight decay (convolution and dense kernels, not biases or norms). */
  decayed: tf.Variable[];
  /** Images (float32 NHWC, normalised) to features [batch, featureDim]. */
  encode(x: tf.Tensor4D, training: boolean): tf.Tensor2D;
  dispose(): void;
}

class Params {
  readonly trainable: tf.Variable[] = [];
  readonly decayed: tf.Variable[] = [];
  readonly state: tf.Variable[] = [];
  private readonly rng: SeededRandom;
  constructor(seed: number) {
    this.rng = new SeededRandom(seed);
  }
  /** He-normal kernel of the given shape; fanIn is every axis but the last. */
  kernel(shape: number[]): tf.Variable {
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const std = Math.sqrt(2 / fanIn);
    const size = shape.reduce((a, b) => a * b, 1);
    const v = tf.variable(
      tf.tensor(
        Float32Array.from({ length: size }, () => this.rng.normal() * std),
        shape,
      ),
    );
    this.trainable.push(v);
    this.decayed.push(v);
    return v;
  }
  constant(shape: number[], value: number, trainable = true): tf.Variable {
    const v = tf.variable(tf.fill(shape, value), trainable);
    (trainable ? this.trainable : this.state).push(v);
    return v;
  }
}

/** Batch normalisation over N, H, W with running statistics for evaluation. */
function batchNorm(p: Params, channels: number) {
  const gamma = p.constant([channels], 1);
  const beta = p.constant([channels], 0);
  const runMean = p.constant([channels], 0, false);
  const runVar = p.constant([channels], 1, false);
  // Written out with broadcasting ops rather than tf.batchNorm, whose gradient tiles every
  // statistic to the activation's full size (most of a training step on wasm).
  const normalise = (x: tf.Tensor4D, mean: tf.Tensor, variance: tf.Tensor) =>
    tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta) as tf.Tensor4D;
  return (x: tf.Tensor4D, training: boolean): tf.Tensor4D => {
    if (!training) return normalise(x, runMean, runVar);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    runMean.assign(tf.add(tf.mul(runMean, 0.9), tf.mul(mean, 0.1)));
    runVar.assign(tf.add(tf.mul(runVar, 0.9), tf.mul(variance, 0.1)));
    return normalise(x, mean, variance);
  };
}

function convBnRelu(p: Params, cin: number, cout: number) {
  const w = p.kernel([3, 3, cin, cout]);
  const bn = batchNorm(p, cout);
  return (x: tf.Tensor4D, training: boolean) => tf.relu(bn(tf.conv2d(x, w as tf.Tensor4D, 1, 'same'), training));
}

function finish(p: Params, architecture: StudentArchitecture, featureDim: number, encode: Student['encode']): Student {
  return {
    architecture,
    featureDim,
    trainable: p.trainable,
    decayed: p.decayed,
    encode,
    dispose: () => tf.dispose([...p.trainable, ...p.state]),
  };
}

/** Three conv-BN-ReLU blocks (32, 64, 128 channels), max-pooled between, then a global average. */
export function convNet(channels: number, seed: number): Student {
  const p = new Params(seed);
  const blocks = [convBnRelu(p, channels, 32), convBnRelu(p, 32, 64), convBnRelu(p, 64, 128)];
  return finish(p, 'convnet', 128, (x, training) => {
    let h: tf.Tensor4D = x;
    blocks.forEach((block, i) => {
      h = block(h, training);
      if (i < blocks.length - 1) h = tf.maxPool(h, 2, 2, 'same');
    });
    return tf.mean(h, [1, 2]) as tf.Tensor2D;
  });
}

/** A stem and three basic residual blocks (32, 64, 128), average-pooled between, then a global average. */
export function resNet(channels: number, seed: number): Student {
  const p = new Params(seed);
  const stem = convBnRelu(p, channels, 32);
  const widths = [32, 64, 128];
  const blocks = widths.map((cout, i) => {
    const cin = i === 0 ? 32 : (widths[i - 1] as number);
    const a = convBnRelu(p, cin, cout);
    const w2 = p.kernel([3, 3, cout, cout]);
    const bn2 = batchNorm(p, cout);
    const project = cin === cout ? null : p.kernel([1, 1, cin, cout]);
    return (x: tf.Tensor4D, training: boolean) => {
      const y = bn2(tf.conv2d(a(x, training), w2 as tf.Tensor4D, 1, 'same'), training);
      const shortcut = project ? tf.conv2d(x, project as tf.Tensor4D, 1, 'same') : x;
      return tf.relu(tf.add(y, shortcut)) as tf.Tensor4D;
    };
  });
  return finish(p, 'resnet', 128, (x, training) => {
    let h = stem(x, training);
    blocks.forEach((block, i) => {
      h = block(h, training);
      if (i < blocks.length - 1) h = tf.avgPool(h, 2, 2, 'same');
    });
    return tf.mean(h, [1, 2]) as tf.Tensor2D;
  });
}

export function createStudent(architecture: StudentArchitecture, channels: number, seed: number): Student {
  return architecture === 'convnet' ? convNet(channels, seed) : resNet(channels, seed);
}
