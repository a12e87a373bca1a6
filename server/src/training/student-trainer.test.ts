import fs from 'node:fs';
import zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { knownSources } from '../datasets/known-sources.ts';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { linearProbe, meanStd } from './linear-probe.ts';
import { encodeAll, trainStudent } from './student-trainer.ts';
import { prepareTraining } from './wasm-training-kernels.ts';

const COUNT = 512;

/** The first images and labels of the Fashion-MNIST test split shipped in the repository. */
function demo(count: number) {
  const source = knownSources.find((s) => s.id === 'fashion-mnist-test');
  if (!source) throw new Error('no demo data');
  const pixels = new Uint8Array(zlib.gunzipSync(fs.readFileSync(source.images)).subarray(16, 16 + count * 784));
  const labels = Int32Array.from(zlib.gunzipSync(fs.readFileSync(source.labels)).subarray(8, 8 + count));
  return { pixels, labels };
}

/** Targets a student can learn: the mean brightness of each 7x7 cell of the image (16 values). */
function cellMeans(pixels: Uint8Array, count: number): Float32Array {
  const t = new Float32Array(count * 16);
  for (let i = 0; i < count; i++)
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        const cell = Math.floor(y / 7) * 4 + Math.floor(x / 7);
        t[i * 16 + cell] = (t[i * 16 + cell] as number) + (pixels[i * 784 + y * 28 + x] as number) / 49 / 255;
      }
  return t;
}

describe('student training on the wasm backend', () => {
  const { pixels, labels } = demo(COUNT);
  const targets = cellMeans(pixels, COUNT);

  beforeAll(async () => {
    await initTfjs();
    await prepareTraining();
    await tf.setBackend('wasm');
  });

  for (const architecture of ['convnet', 'resnet'] as const) {
    it(`trains a ${architecture} whose regression loss falls epoch by epoch, reporting progress`, async () => {
      const epochs: number[] = [];
      const small = 256;
      const { student, history } = await trainStudent(
        {
          pixels: pixels.subarray(0, small * 784),
          shape: [small, 28, 28, 1],
          objective: { kind: 'regression', targets: targets.subarray(0, small * 16), targetDim: 16 },
        },
        {
          architecture,
          epochs: 4,
          batchSize: 64,
          learningRate: 3e-3,
          seed: 1,
          onEpoch: (e) => void epochs.push(e.epoch),
        },
      );
      expect(epochs).toEqual([1, 2, 3, 4]);
      expect(history.every((h) => Number.isFinite(h.loss) && h.imagesPerSecond > 0)).toBe(true);
      expect((history.at(-1) as (typeof history)[number]).loss).toBeLessThan(
        (history[0] as (typeof history)[number]).loss * 0.7,
      );
      const features = await encodeAll(student, pixels.subarray(0, small * 784), [small, 28, 28, 1], {
        mean: 0.5,
        std: 0.25,
      });
      expect(features.length).toBe(small * student.featureDim);
      expect(features.every(Number.isFinite)).toBe(true);
      student.dispose();
    }, 180_000);
  }

  it('SimCLR (two augmented views, NT-Xent) and supervised training run through the same loop, and their losses fall', async () => {
    const small = 256;
    const shape: [number, number, number, number] = [small, 28, 28, 1];
    const first = (h: { loss: number }[]) => (h[0] as { loss: number }).loss;
    const last = (h: { loss: number }[]) => (h.at(-1) as { loss: number }).loss;
    const contrastive = await trainStudent(
      { pixels: pixels.subarray(0, small * 784), shape, objective: { kind: 'contrastive' } },
      { architecture: 'convnet', epochs: 3, batchSize: 64, learningRate: 3e-3, seed: 3 },
    );
    contrastive.student.dispose();
    expect(last(contrastive.history)).toBeLessThan(first(contrastive.history));
    // NT-Xent of 2x64 rows starts near log(127) = 4.84 and cannot go below 0.
    expect(first(contrastive.history)).toBeGreaterThan(3);
    const supervised = await trainStudent(
      { pixels: pixels.subarray(0, small * 784), shape, objective: { kind: 'supervised', labels, classes: 10 } },
      { architecture: 'convnet', epochs: 3, batchSize: 64, learningRate: 3e-3, seed: 3, augment: true },
    );
    supervised.student.dispose();
    expect(last(supervised.history)).toBeLessThan(first(supervised.history) * 0.8);
  }, 180_000);

  it('the linear probe separates classes that features separate, and is at chance on shuffled labels', async () => {
    // Features that carry the label (one-hot plus noise) against the same features with labels shuffled.
    const n = 400;
    const classes = 10;
    const make = (offset: number) => {
      const labelsOf = Int32Array.from({ length: n }, (_, i) => (i * 7 + offset) % classes);
      const features = Float32Array.from({ length: n * 20 }, (_, k) => {
        const i = Math.floor(k / 20);
        const j = k % 20;
        return (j === labelsOf[i] ? 2 : 0) + Math.sin(k * 1.7 + offset) * 0.5;
      });
      return { features, labels: labelsOf, dim: 20 };
    };
    const train = make(0);
    const test = make(3);
    const good = await linearProbe(train, test, { classes, seed: 1 });
    expect(good.accuracy).toBeGreaterThan(0.95);
    const shuffled = {
      ...train,
      labels: Int32Array.from(train.labels, (_, i) => train.labels[(i * 37) % n] as number),
    };
    const chance = await linearProbe(shuffled, test, { classes, seed: 1 });
    expect(chance.accuracy).toBeLessThan(0.3);
    expect(meanStd([0.5, 0.7, 0.6])).toEqual({ mean: 0.6, std: expect.closeTo(0.1, 10) });
  });

  it('a trained encoder carries the real labels: the linear probe on its features is far above chance (10%)', async () => {
    const data = {
      pixels,
      shape: [COUNT, 28, 28, 1] as [number, number, number, number],
      objective: { kind: 'regression' as const, targets, targetDim: 16 },
    };
    const probe = async (epochs: number) => {
      const { student } = await trainStudent(data, {
        architecture: 'convnet',
        epochs,
        batchSize: 64,
        learningRate: 3e-3,
        seed: 2,
      });
      const f = await encodeAll(student, pixels, data.shape, { mean: 0.5, std: 0.25 });
      student.dispose();
      const half = COUNT / 2;
      const split = (from: number) => ({
        features: f.subarray(from * 128, (from + half) * 128),
        labels: labels.subarray(from, from + half),
        dim: 128,
      });
      return (await linearProbe(split(0), split(half), { classes: 10, seed: 0 })).accuracy;
    };
    const trained = await probe(4);
    expect(trained).toBeGreaterThan(0.5);
  }, 180_000);
});
