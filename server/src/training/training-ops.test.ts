import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { batchNormTraining, maxPool2x2 } from './training-ops.ts';
import { prepareTraining } from './wasm-training-kernels.ts';

const X = Array.from({ length: 3 * 6 * 4 * 5 }, (_, i) => Math.sin(i * 1.37) * 3 + (i % 5));
const WEIGHT = Array.from({ length: 3 * 6 * 4 * 5 }, (_, i) => Math.cos(i * 0.61));
const POOL_WEIGHT = Array.from({ length: 3 * 3 * 2 * 5 }, (_, i) => Math.cos(i * 0.7));
const GAMMA = [0.5, 1, 1.5, -2, 3];
const BETA = [0.1, -0.2, 0.3, 0, 1];

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(a[i] as number), Math.abs(b[i] as number));
  }
  return diff / scale;
}

/** Values and gradients of weighted sums of batch norm and of 2x2 max pooling, on the active backend. */
async function evaluate(batchNorm: typeof batchNormTraining | null, pool: (x: tf.Tensor4D) => tf.Tensor4D) {
  const x = tf.tensor4d(X, [3, 6, 4, 5]);
  const w = tf.tensor4d(WEIGHT, [3, 6, 4, 5]);
  const pw = tf.tensor4d(POOL_WEIGHT, [3, 3, 2, 5]);
  const gamma = tf.tensor1d(GAMMA);
  const beta = tf.tensor1d(BETA);
  const norm = (a: tf.Tensor4D, g: tf.Tensor1D, b: tf.Tensor1D) => {
    if (batchNorm) return batchNorm(a, g, b, 1e-5, (s) => tf.dispose([s.mean, s.variance]));
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b) as tf.Tensor4D;
  };
  const normGrads = tf.grads((a, g, b) =>
    tf.sum(tf.mul(norm(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D), w)),
  )([x, gamma, beta]);
  const poolGrad = tf.grad((a) => tf.sum(tf.mul(pool(a as tf.Tensor4D), pw)))(x);
  const out = {
    norm: (await norm(x, gamma, beta).data()) as Float32Array,
    normGrads: await Promise.all(normGrads.map(async (g) => (await g.data()) as Float32Array)),
    pool: (await pool(x).data()) as Float32Array,
    poolGrad: (await poolGrad.data()) as Float32Array,
  };
  tf.dispose([x, w, pw, gamma, beta, ...normGrads, poolGrad]);
  return out;
}

const tfjsPool = (x: tf.Tensor4D) => tf.maxPool(x, 2, 2, 'same');

describe('training ops with their own gradients', () => {
  let reference: Awaited<ReturnType<typeof evaluate>>;
  beforeAll(async () => {
    await initTfjs();
    await prepareTraining();
    // The reference: tfjs-core's own ops and gradients on the plain cpu backend.
    await tf.setBackend('cpu');
    reference = await evaluate(null, tfjsPool);
  });

  it('2x2 max pooling of odd-sized maps matches tfjs-core (cpu backend) on wasm, values and gradients', async () => {
    const run = async (pool: (x: tf.Tensor4D) => tf.Tensor4D) => {
      const x = tf.tensor4d(
        Array.from({ length: 2 * 7 * 5 * 3 }, (_, i) => Math.sin(i * 0.91) * 2),
        [2, 7, 5, 3],
      );
      const pw = tf.tensor4d(
        Array.from({ length: 2 * 4 * 3 * 3 }, (_, i) => Math.cos(i * 0.3)),
        [2, 4, 3, 3],
      );
      const y = (await pool(x).data()) as Float32Array;
      const g = (await tf
        .grad((a) => tf.sum(tf.mul(pool(a as tf.Tensor4D), pw)))(x)
        .data()) as Float32Array;
      tf.dispose([x, pw]);
      return { y, g };
    };
    await tf.setBackend('cpu');
    const expected = await run(tfjsPool);
    await tf.setBackend('wasm');
    const ours = await run(maxPool2x2);
    expect(maxRelDiff(ours.y, expected.y)).toBe(0);
    expect(maxRelDiff(ours.g, expected.g)).toBeLessThan(1e-6);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`batch norm and 2x2 max pooling match tfjs-core's ops and gradients (cpu backend) on ${backend}`, async () => {
      await tf.setBackend(backend);
      const ours = await evaluate(batchNormTraining, maxPool2x2);
      expect(maxRelDiff(ours.norm, reference.norm)).toBeLessThan(1e-5);
      ours.normGrads.forEach((g, i) => {
        expect(maxRelDiff(g, reference.normGrads[i] as Float32Array), `batch-norm gradient ${i}`).toBeLessThan(1e-4);
      });
      expect(maxRelDiff(ours.pool, reference.pool)).toBe(0);
      expect(maxRelDiff(ours.poolGrad, reference.poolGrad)).toBeLessThan(1e-6);
    });
  }

  it("the wasm backend's own MaxPoolGrad disagrees with the cpu backend, which is why pooling has its own gradient", async () => {
    await tf.setBackend('wasm');
    const shipped = await evaluate(null, tfjsPool);
    expect(maxRelDiff(shipped.poolGrad, reference.poolGrad)).toBeGreaterThan(1e-2);
  });

  it('batch norm reports the batch statistics', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(X, [3, 6, 4, 5]);
    const seen: tf.Tensor[] = [];
    batchNormTraining(x, tf.ones([5]), tf.zeros([5]), 1e-5, (s) => seen.push(s.mean, s.variance)).dispose();
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    expect(maxRelDiff((await seen[0]?.data()) as Float32Array, (await mean.data()) as Float32Array)).toBeLessThan(1e-5);
    expect(maxRelDiff((await seen[1]?.data()) as Float32Array, (await variance.data()) as Float32Array)).toBeLessThan(
      1e-5,
    );
    tf.dispose([x, mean, variance, ...seen]);
  });
});
