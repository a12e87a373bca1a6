import { SeededRandom } from '@coopt/shared/math';
import * as tf from '@tensorflow/tfjs-core';
import { ntXentLoss } from './contrastive-loss.ts';
import { augmentImages, CONTRASTIVE_VIEWS, CROP_FLIP } from './image-augment.ts';
import { createStudent, type Student, type StudentArchitecture } from './student-models.ts';
import { prepareTraining } from './wasm-training-kernels.ts';
import { yieldToEventLoop } from './yield-to-event-loop.ts';

/**
 * What the student learns from, beside the images:
 * - `regression`: a round's targets (CoOpt step 8), MSE on per-dimension standardised targets or 1 - cosine;
 * - `contrastive`: nothing but the images, SimCLR's NT-Xent between two augmented views;
 * - `supervised`: the labels, softmax cross entropy (the upper bound).
 */
export type TrainingObjective =
  | { kind: 'regression'; targets: Float32Array; targetDim: number; loss?: 'mse' | 'cosine' }
  | { kind: 'contrastive'; temperature?: number; projectionDim?: number }
  | { kind: 'supervised'; labels: Int32Array; classes: number };

export interface TrainingData {
  /** uint8 images, NHWC. */
  pixels: Uint8Array;
  shape: [number, number, number, number];
  objective: TrainingObjective;
}

export interface TrainerOptions {
  architecture: StudentArchitecture;
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  weightDecay?: number;
  /** Random crops and horizontal flips per image (contrastive training always augments, more strongly). */
  augment?: boolean;
  seed?: number;
  /** Pixel normalisation: (x / 255 - mean) / std. */
  mean?: number;
  std?: number;
  /** Called after every epoch with the encoder as it stands; its time is not counted as training time. */
  onEpoch?: (e: EpochReport, student: Student) => void | Promise<void>;
  /** Called after every batch. */
  onBatch?: (p: { epoch: number; batch: number; batches: number }) => void | Promise<void>;
}

export interface EpochReport {
  epoch: number;
  loss: number;
  imagesPerSecond: number;
  /** Training seconds since the start, not counting the time spent in `onEpoch`. */
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
function targetStats(targets: Float32Array, n: number) {
  const rows = targets.length / n;
  const mean = new Float32Array(n);
  const std = new Float32Array(n);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < n; j++) mean[j] = (mean[j] as number) + (targets[i * n + j] as number) / rows;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < n; j++)
      std[j] = (std[j] as number) + ((targets[i * n + j] as number) - (mean[j] as number)) ** 2 / rows;
  for (let j = 0; j < n; j++) std[j] = Math.max(Math.sqrt(std[j] as number), 1e-6);
  return { mean, std };
}

/** One objective's head and loss: variables the optimiser also updates, and the batch loss. */
interface Head {
  variables: tf.Variable[];
  decayed: tf.Variable[];
  /** Rows of the batch (indices into the dataset) to whatever the loss needs, built outside the tape. */
  batchTargets(idx: Int32Array): tf.Tensor | null;
  loss(student: Student, x: tf.Tensor4D, target: tf.Tensor | null, rng: SeededRandom): tf.Scalar;
  dispose(): void;
}

function dense(rows: number, cols: number, seed: number) {
  return {
    w: tf.variable(tf.randomNormal([rows, cols], 0, Math.sqrt(1 / rows), 'float32', seed)),
    b: tf.variable(tf.zeros([cols])),
  };
}

function headFor(objective: TrainingObjective, featureDim: number, seed: number): Head {
  if (objective.kind === 'regression') {
    const n = objective.targetDim;
    const { w, b } = dense(featureDim, n, seed);
    const stats = targetStats(objective.targets, n);
    const tMean = tf.tensor1d(stats.mean);
    const tStd = tf.tensor1d(stats.std);
    return {
      variables: [w, b],
      decayed: [w],
      batchTargets: (idx) => {
        const ty = new Float32Array(idx.length * n);
        idx.forEach((s, k) => {
          ty.set(objective.targets.subarray(s * n, (s + 1) * n), k * n);
        });
        return tf.tidy(() => tf.div(tf.sub(tf.tensor2d(ty, [idx.length, n]), tMean), tStd));
      },
      loss: (student, x, y) => {
        const pred = tf.add(tf.matMul(student.encode(x, true), w), b);
        if (objective.loss === 'cosine') {
          const unit = (t: tf.Tensor) => tf.div(t, tf.maximum(tf.norm(t, 'euclidean', 1, true), 1e-8));
          return tf.mean(tf.sub(1, tf.sum(tf.mul(unit(pred), unit(y as tf.Tensor)), 1))) as tf.Scalar;
        }
        return tf.mean(tf.square(tf.sub(pred, y as tf.Tensor))) as tf.Scalar;
      },
      dispose: () => tf.dispose([w, b, tMean, tStd]),
    };
  }
  if (objective.kind === 'supervised') {
    const { w, b } = dense(featureDim, objective.classes, seed);
    return {
      variables: [w, b],
      decayed: [w],
      batchTargets: (idx) =>
        tf.tidy(() =>
          tf.oneHot(
            tf.tensor1d(
              Int32Array.from(idx, (s) => objective.labels[s] as number),
              'int32',
            ),
            objective.classes,
          ),
        ),
      loss: (student, x, y) =>
        tf.losses.softmaxCrossEntropy(y as tf.Tensor, tf.add(tf.matMul(student.encode(x, true), w), b)) as tf.Scalar,
      dispose: () => tf.dispose([w, b]),
    };
  }
  // SimCLR: a two-layer projection head, and NT-Xent between two independently augmented views.
  const proj = objective.projectionDim ?? 64;
  const first = dense(featureDim, featureDim, seed);
  const second = dense(featureDim, proj, seed + 1);
  const temperature = objective.temperature ?? 0.5;
  const project = (f: tf.Tensor) =>
    tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(f, first.w), first.b)), second.w), second.b) as tf.Tensor2D;
  return {
    variables: [first.w, first.b, second.w, second.b],
    decayed: [first.w, second.w],
    batchTargets: () => null,
    loss: (student, x, _y, rng) => {
      const a = augmentImages(x, rng, CONTRASTIVE_VIEWS);
      const b = augmentImages(x, rng, CONTRASTIVE_VIEWS);
      const both = student.encode(tf.concat([a, b], 0), true);
      const rows = x.shape[0];
      const z = project(both);
      return ntXentLoss(tf.slice(z, [0, 0], [rows, -1]), tf.slice(z, [rows, 0], [rows, -1]), temperature);
    },
    dispose: () => tf.dispose([first.w, first.b, second.w, second.b]),
  };
}

/**
 * Trains a student encoder with its objective's head: AdamW (Adam with decoupled weight decay on
 * kernels), mini-batches in a seeded order, optional crop/flip augmentation, and a report per epoch.
 * The head is dropped afterwards; the encoder is what the linear probe evaluates. Every objective
 * runs through this one loop, so baselines get the same code and budget as CoOpt.
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
  const head = headFor(data.objective, student.featureDim, seed);
  const optimizer = tf.train.adam(lr);
  const history: EpochReport[] = [];
  const image = h * w * c;
  let trainingMs = 0;

  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const order = rng.permutation(count);
      let lossSum = 0;
      let batches = 0;
      const epochStart = performance.now();
      for (let start = 0; start < count; start += batchSize) {
        const idx = order.subarray(start, Math.min(count, start + batchSize));
        // Contrastive batches need at least two images for a negative.
        if (data.objective.kind === 'contrastive' && idx.length < 2) continue;
        const px = new Uint8Array(idx.length * image);
        idx.forEach((s, k) => {
          px.set(data.pixels.subarray(s * image, (s + 1) * image), k * image);
        });
        const target = head.batchTargets(idx);
        const loss = tf.tidy(() => {
          let x = normaliseImages(
            tf.tensor4d(px, [idx.length, h, w, c], 'int32'),
            options.mean ?? 0.5,
            options.std ?? 0.25,
          );
          if (options.augment && data.objective.kind !== 'contrastive') x = augmentImages(x, rng, CROP_FLIP);
          return optimizer.minimize(() => head.loss(student, x, target, rng), true, [
            ...student.trainable,
            ...head.variables,
          ]) as tf.Scalar;
        });
        target?.dispose();
        // Decoupled weight decay (AdamW): shrink the kernels directly, apart from the gradient.
        tf.tidy(() => {
          for (const v of [...student.decayed, ...head.decayed]) v.assign(tf.mul(v, 1 - lr * wd));
        });
        lossSum += ((await loss.data()) as Float32Array)[0] as number;
        loss.dispose();
        batches++;
        await options.onBatch?.({ epoch, batch: batches, batches: Math.ceil(count / batchSize) });
        await yieldToEventLoop();
      }
      const epochMs = performance.now() - epochStart;
      trainingMs += epochMs;
      const report: EpochReport = {
        epoch,
        loss: lossSum / Math.max(1, batches),
        imagesPerSecond: count / (epochMs / 1000),
        seconds: trainingMs / 1000,
      };
      history.push(report);
      await options.onEpoch?.(report, student);
    }
  } finally {
    head.dispose();
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
    await yieldToEventLoop();
  }
  return out;
}
