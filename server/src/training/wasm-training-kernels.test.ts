import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { registerWasmTrainingKernels } from './wasm-training-kernels.ts';

/** The filter gradient of sum(conv2d(x, w) * g) on one backend, as plain numbers. */
async function filterGradient(
  backend: string,
  x: Float32Array,
  xShape: [number, number, number, number],
  w: Float32Array,
  wShape: [number, number, number, number],
  stride: number,
  pad: 'same' | 'valid',
): Promise<Float32Array> {
  await tf.setBackend(backend);
  const xt = tf.tensor4d(x, xShape);
  const wt = tf.tensor4d(w, wShape);
  const g = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xt, f as tf.Tensor4D, stride, pad), 0.5)));
  const dw = g(wt);
  const out = (await dw.data()) as Float32Array;
  tf.dispose([xt, wt, dw]);
  return out;
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    await initTfjs();
    registerWasmTrainingKernels();
  });

  const cases: {
    name: string;
    x: [number, number, number, number];
    w: [number, number, number, number];
    stride: number;
    pad: 'same' | 'valid';
  }[] = [
    { name: '3x3 same, stride 1', x: [4, 12, 12, 3], w: [3, 3, 3, 8], stride: 1, pad: 'same' },
    { name: '3x3 valid, stride 1, odd sizes', x: [2, 13, 11, 5], w: [3, 3, 5, 6], stride: 1, pad: 'valid' },
    { name: '5x5 valid, stride 1', x: [3, 10, 10, 2], w: [5, 5, 2, 4], stride: 1, pad: 'valid' },
    { name: '1x1 valid, stride 2', x: [2, 8, 8, 16], w: [1, 1, 16, 32], stride: 2, pad: 'valid' },
  ];
  for (const c of cases) {
    it(`Conv2DBackpropFilter (${c.name}) matches the cpu backend`, async () => {
      const rand = (n: number, seed: number) =>
        Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.8);
      const x = rand(
        c.x.reduce((a, b) => a * b),
        1,
      );
      const w = rand(
        c.w.reduce((a, b) => a * b),
        2,
      );
      const cpu = await filterGradient('cpu', x, c.x, w, c.w, c.stride, c.pad);
      const wasm = await filterGradient('wasm', x, c.x, w, c.w, c.stride, c.pad);
      expect(wasm.length).toBe(cpu.length);
      const scale = Math.max(...cpu.map(Math.abs));
      let worst = 0;
      for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs((cpu[i] as number) - (wasm[i] as number)));
      expect(worst / scale).toBeLessThan(1e-5);
    });
  }

  it('refuses a strided filter larger than 1x1 by name instead of returning a wrong gradient', async () => {
    const x = new Float32Array(2 * 8 * 8 * 2);
    await expect(
      filterGradient('wasm', x, [2, 8, 8, 2], new Float32Array(9 * 2 * 3), [3, 3, 2, 3], 2, 'same'),
    ).rejects.toThrow(/3x3 filter with stride 2x2 is not supported/);
  });

  it('lets a small convnet take a training step on wasm, with the same loss change as on cpu', async () => {
    const step = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(
        Float32Array.from({ length: 8 * 8 * 8 }, (_, i) => Math.cos(i)),
        [8, 8, 8, 1],
      );
      const y = tf.tensor2d(
        Float32Array.from({ length: 8 * 4 }, (_, i) => Math.sin(i)),
        [8, 4],
      );
      const w1 = tf.variable(
        tf.tensor4d(
          Float32Array.from({ length: 9 * 6 }, (_, i) => Math.sin(i * 3) * 0.3),
          [3, 3, 1, 6],
        ),
      );
      const w2 = tf.variable(
        tf.tensor2d(
          Float32Array.from({ length: 6 * 4 }, (_, i) => Math.cos(i * 5) * 0.3),
          [6, 4],
        ),
      );
      const loss = () =>
        tf.losses.meanSquaredError(
          y,
          tf.matMul(tf.mean(tf.relu(tf.conv2d(x, w1, 1, 'same')), [1, 2]), w2),
        ) as tf.Scalar;
      const opt = tf.train.sgd(0.1);
      const before = (await loss().data())[0] as number;
      opt.minimize(loss);
      const after = (await loss().data())[0] as number;
      tf.dispose([x, y, w1, w2]);
      return { before, after };
    };
    const cpu = await step('cpu');
    const wasm = await step('wasm');
    expect(wasm.after).toBeLessThan(wasm.before);
    expect(wasm.before).toBeCloseTo(cpu.before, 5);
    expect(wasm.after).toBeCloseTo(cpu.after, 5);
  });
});
