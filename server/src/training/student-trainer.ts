import { SeededRandom } from '@coopt/shared/math';
import * as tf from '@tensorflow/tfjs-core';
import { createStudent, type Student, type StudentArchitecture } from './student-models.ts';
import { prepareTraining } from './wasm-training-kernels.ts';

export interface TrainingData {
  /** uint8 images, NHWC. */
  pixels: Uint8Array;
  shape: [number, number, number, number];
  /** float32 [N, n] regression targets (a round's merged targets). */
  targets: Float32Array;
  targetDim: number;
}

export interface TrainerOptions {
  architecture: StudentArchitecture;
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  weightDecay?: number;
  /** 'mse' on per-dimension standardised targets (default), or 'cosine' (1 - cos). */
  loss?: 'mse' | 'cosine';
  /** Random crops (4-pixel zero padding) and horizontal flips. */
  augment?: boolean;
  seed?: number;
  /** Pixel normalisation: (x / 255 - mean) / std. */
  mean?: number;
  std?: number;
  onEpoch?: (e: EpochReport) => void | Promise<void>;
}

export interface EpochReport {
  epoch: number;
  loss: number;
  imagesPerSecond: number;
  /** Seconds since training began. */
  seconds: number;
}

export interface TrainedStudent {
  student: Student;
  history: EpochReport[];
}

/** (x / 255 - mean) / std on the active backend. */
export function normaliseImages(pixels: tf.Tensor4D, mean: number, std: number): tf.Tensor4D {
  return tf.div(tf.sub(tf.div(tf.cast(pixels, 'float32'), 255), mean), std) as tf.Tensor4D;
}

/** Per-dimension mean and standard deviation of the targets. */
function targetStats(t: TrainingData) {
  const n = t.targetDim;
  const rows = t.targets.length / n;
  const mean = new Float32Array(n);
  const std = new Float32Array(n);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < n; j++) mean[j] = (mean[j] as number) + (t.targets[i * n + j] as number) / rows;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < n; j++)
      std[j] = (std[j] as number) + ((t.targets[i * n + j] as number) - (mean[j] as number)) ** 2 / rows;
  for (let j = 0; j < n; j++) std[j] = Math.max(Math.sqrt(std[j] as number), 1e-6);
  return { mean, std };
}

function augmentBatch(x: tf.Tensor4D, rng: SeededRandom): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const padded = tf.pad(x, [
      [0, 0],
      [4, 4],
      [4, 4],
      [0, 0],
    ]);
    const top = rng.nextUint32() % 9;
    const left = rng.nextUint32() % 9;
    let out = tf.slice(padded, [0, top, left, 0], [-1, h, w, -1]) as tf.Tensor4D;
    if (rng.next() < 0.5) out = tf.reverse(out, 2) as tf.Tensor4D;
    return out;
  });
}

/**
 * Trains a student encoder plus a linear head to regress the targets (CoOpt step 8):
 * AdamW (Adam with decoupled weight decay on kernels), mini-batches in a seeded order, optional
 * crop/flip augmentation, and a report per epoch. The head is dropped afterwards; the encoder is
 * what the linear probe evaluates.
 */
export async function trainStudent(data: TrainingData, options: TrainerOptions): Promise<TrainedStudent> {
  await prepareTraining();
  const batchSize = options.batchSize ?? 128;
  const lr = options.learningRate ?? 1e-3;
  const wd = options.weightDecay ?? 5e-4;
  const seed = options.seed ?? 0;
  const rng = new SeededRandom(seed);
  const [count, h, w, c] = data.shape;
  const student = createStudent(options.architecture, c, seed);
  const n = data.targetDim;
  const head = tf.variable(
    tf.randomNormal([student.featureDim, n], 0, Math.sqrt(1 / student.featureDim), 'float32', seed),
  );
  const headBias = tf.variable(tf.zeros([n]));
  const stats = targetStats(data);
  const tMean = tf.tensor1d(stats.mean);
  const tStd = tf.tensor1d(stats.std);
  const optimizer = tf.train.adam(lr);
  const history: EpochReport[] = [];
  const image = h * w * c;
  const started = performance.now();

  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const order = rng.permutation(count);
      let lossSum = 0;
      let batches = 0;
      const epochStart = performance.now();
      for (let start = 0; start < count; start += batchSize) {
        const idx = order.subarray(start, Math.min(count, start + batchSize));
        const px = new Uint8Array(idx.length * image);
        const ty = new Float32Array(idx.length * n);
        idx.forEach((s, k) => {
          px.set(data.pixels.subarray(s * image, (s + 1) * image), k * image);
          ty.set(data.targets.subarray(s * n, (s + 1) * n), k * n);
        });
        const loss = tf.tidy(() => {
          let x = normaliseImages(
            tf.tensor4d(px, [idx.length, h, w, c], 'int32'),
            options.mean ?? 0.5,
            options.std ?? 0.25,
          );
          if (options.augment) x = augmentBatch(x, rng);
          const y = tf.div(tf.sub(tf.tensor2d(ty, [idx.length, n]), tMean), tStd);
          return optimizer.minimize(
            () => {
              const pred = tf.add(tf.matMul(student.encode(x, true), head), headBias);
              if (options.loss === 'cosine') {
                const unit = (t: tf.Tensor) => tf.div(t, tf.maximum(tf.norm(t, 'euclidean', 1, true), 1e-8));
                const cos = tf.sum(tf.mul(unit(pred), unit(y)), 1);
                return tf.mean(tf.sub(1, cos)) as tf.Scalar;
              }
              return tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
            },
            true,
            [...student.trainable, head, headBias],
          ) as tf.Scalar;
        });
        // Decoupled weight decay (AdamW): shrink the kernels directly, apart from the gradient.
        tf.tidy(() => {
          for (const v of [...student.decayed, head]) v.assign(tf.mul(v, 1 - lr * wd));
        });
        lossSum += ((await loss.data()) as Float32Array)[0] as number;
        loss.dispose();
        batches++;
      }
      const report: EpochReport = {
        epoch,
        loss: lossSum / batches,
        imagesPerSecond: count / ((performance.now() - epochStart) / 1000),
        seconds: (performance.now() - started) / 1000,
      };
      history.push(report);
      await options.onEpoch?.(report);
    }
  } finally {
    tf.dispose([head, headBias, tMean, tStd]);
    optimizer.dispose();
  }
  return { student, history };
}

/** Features of every image through a trained (frozen) encoder, in batches. */
export async function encodeAll(
  student: Student,
  pixels: Uint8Array,
  shape: [number, number, number, number],
  norm: { mean: number; std: number },
  batchSize = 256,
): Promise<Float32Array> {
  const [count, h, w, c] = shape;
  const image = h * w * c;
  const out = new Float32Array(count * student.featureDim);
  for (let start = 0; start < count; start += batchSize) {
    const k = Math.min(batchSize, count - start);
    const f = tf.tidy(() =>
      student.encode(
        normaliseImages(
          tf.tensor4d(pixels.subarray(start * image, (start + k) * image), [k, h, w, c], 'int32'),
          norm.mean,
          norm.std,
        ),
        false,
      ),
    );
    out.set((await f.data()) as Float32Array, start * student.featureDim);
    f.dispose();
  }
  return out;
}
