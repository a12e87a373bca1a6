import { SeededRandom } from '@coopt/shared/math';
import * as tf from '@tensorflow/tfjs-core';
import { batchNormTraining, maxPool2x2 } from './training-ops.ts';

/**
 * Student encoders for training on a round's targets: a plain ConvNet and a small ResNet, written
 * on tfjs-core ops so they train on any backend (wasm with the project's kernels, WebGPU, cpu).
 * Convolutions are stride 1; downsampling is by pooling. Each architecture is a list of layers
 * (`StudentLayer`), which `encode` runs and `student-export.ts` writes out as a TF.js model.
 */
export type StudentArchitecture = 'convnet' | 'resnet';

/** Batch normalisation's variables: scale, shift and the running statistics used at evaluation. */
export interface NormVariables {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
}

/** A 3x3 stride-1 'same' convolution without bias, then batch norm and (unless stated) ReLU. */
export interface ConvUnit {
  kernel: tf.Variable;
  norm: NormVariables;
}

export type StudentLayer =
  | { kind: 'conv'; unit: ConvUnit }
  | { kind: 'pool'; mode: 'max' | 'avg' }
  /** relu(bn(conv(conv-bn-relu(x))) + shortcut), the shortcut a 1x1 convolution when widths differ. */
  | { kind: 'residual'; first: ConvUnit; second: ConvUnit; project: tf.Variable | null };

export const BATCH_NORM_EPSILON = 1e-5;
export const BATCH_NORM_MOMENTUM = 0.9;

export interface Student {
  architecture: StudentArchitecture;
  featureDim: number;
  layers: StudentLayer[];
  /** Every variable the optimiser updates. */
  trainable: tf.Variable[];
  /** Weights that take decoupled weight decay (convolution and dense kernels, not biases or norms). */
  decayed: tf.Variable[];
  /** Images (float32 NHWC, normalised) to features [batch, featureDim]: the layers, then a global average. */
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
  conv(cin: number, cout: number): ConvUnit {
    return {
      kernel: this.kernel([3, 3, cin, cout]),
      norm: {
        gamma: this.constant([cout], 1),
        beta: this.constant([cout], 0),
        mean: this.constant([cout], 0, false),
        variance: this.constant([cout], 1, false),
      },
    };
  }
}

/**
 * Batch normalisation over N, H, W; in training it uses the batch's statistics (through
 * `batchNormTraining`, with its own gradient) and updates the running ones.
 */
function batchNorm(v: NormVariables, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  if (!training)
    return tf.add(
      tf.mul(tf.mul(tf.sub(x, v.mean), tf.rsqrt(tf.add(v.variance, BATCH_NORM_EPSILON))), v.gamma),
      v.beta,
    ) as tf.Tensor4D;
  return batchNormTraining(
    x,
    v.gamma as tf.Tensor1D,
    v.beta as tf.Tensor1D,
    BATCH_NORM_EPSILON,
    ({ mean, variance }) => {
      const keep = BATCH_NORM_MOMENTUM;
      v.mean.assign(tf.add(tf.mul(v.mean, keep), tf.mul(mean, 1 - keep)));
      v.variance.assign(tf.add(tf.mul(v.variance, keep), tf.mul(variance, 1 - keep)));
      tf.dispose([mean, variance]);
    },
  );
}

function convNorm(u: ConvUnit, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  return batchNorm(u.norm, tf.conv2d(x, u.kernel as tf.Tensor4D, 1, 'same'), training);
}

function runLayer(layer: StudentLayer, x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  switch (layer.kind) {
    case 'conv':
      return tf.relu(convNorm(layer.unit, x, training));
    case 'pool':
      return layer.mode === 'max' ? maxPool2x2(x) : tf.avgPool(x, 2, 2, 'same');
    case 'residual': {
      const y = convNorm(layer.second, tf.relu(convNorm(layer.first, x, training)), training);
      const shortcut = layer.project ? tf.conv2d(x, layer.project as tf.Tensor4D, 1, 'same') : x;
      return tf.relu(tf.add(y, shortcut)) as tf.Tensor4D;
    }
  }
}

function finish(p: Params, architecture: StudentArchitecture, featureDim: number, layers: StudentLayer[]): Student {
  return {
    architecture,
    featureDim,
    layers,
    trainable: p.trainable,
    decayed: p.decayed,
    encode: (x, training) => {
      let h = x;
      for (let i = 0; i < layers.length; i++) {
        const layer = layers[i] as StudentLayer;
        const next = layers[i + 1];
        if (layer.kind === 'conv' && next?.kind === 'pool' && next.mode === 'max') {
          // max(relu(z)) = relu(max(z)) exactly (both are monotone), and pooling first runs the
          // ReLU and its gradient on a quarter of the values.
          h = tf.relu(maxPool2x2(convNorm(layer.unit, h, training)));
          i++;
        } else h = runLayer(layer, h, training);
      }
      return tf.mean(h, [1, 2]) as tf.Tensor2D;
    },
    dispose: () => tf.dispose([...p.trainable, ...p.state]),
  };
}

/** Three conv-BN-ReLU blocks (32, 64, 128 channels), max-pooled between, then a global average. */
export function convNet(channels: number, seed: number): Student {
  const p = new Params(seed);
  return finish(p, 'convnet', 128, [
    { kind: 'conv', unit: p.conv(channels, 32) },
    { kind: 'pool', mode: 'max' },
    { kind: 'conv', unit: p.conv(32, 64) },
    { kind: 'pool', mode: 'max' },
    { kind: 'conv', unit: p.conv(64, 128) },
  ]);
}

/** A stem and three basic residual blocks (32, 64, 128), average-pooled between, then a global average. */
export function resNet(channels: number, seed: number): Student {
  const p = new Params(seed);
  const layers: StudentLayer[] = [{ kind: 'conv', unit: p.conv(channels, 32) }];
  let cin = 32;
  for (const [i, cout] of [32, 64, 128].entries()) {
    if (i > 0) layers.push({ kind: 'pool', mode: 'avg' });
    const first = p.conv(cin, cout);
    const second = p.conv(cout, cout);
    layers.push({ kind: 'residual', first, second, project: cin === cout ? null : p.kernel([1, 1, cin, cout]) });
    cin = cout;
  }
  return finish(p, 'resnet', 128, layers);
}

export function createStudent(architecture: StudentArchitecture, channels: number, seed: number): Student {
  return architecture === 'convnet' ? convNet(channels, seed) : resNet(channels, seed);
}
