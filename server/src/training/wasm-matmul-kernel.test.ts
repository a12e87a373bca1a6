import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { prepareTraining } from './wasm-training-kernels.ts';

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed));

/** tf.matMul of the same values on one backend. */
async function product(backend: string, aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean) {
  await tf.setBackend(backend);
  const a = tf.tensor(
    values(
      aShape.reduce((x, y) => x * y, 1),
      1,
    ),
    aShape,
  );
  const b = tf.tensor(
    values(
      bShape.reduce((x, y) => x * y, 1),
      2,
    ),
    bShape,
  );
  const before = tf.engine().backend.numDataIds();
  const c = tf.matMul(a, b, transposeA, transposeB);
  const out = { shape: c.shape, values: (await c.data()) as Float32Array };
  c.dispose();
  const leaked = tf.engine().backend.numDataIds() - before;
  tf.dispose([a, b]);
  return { ...out, leaked };
}

describe('BatchMatMul on wasm through the SIMD product', () => {
  beforeAll(async () => {
    await initTfjs();
    await prepareTraining();
  });

  const cases: { name: string; a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { name: 'plain, rows not a multiple of 4', a: [7, 33], b: [33, 16], ta: false, tb: false },
    { name: 'left transposed, a long inner dimension (column sums)', a: [300, 1], b: [300, 24], ta: true, tb: false },
    { name: 'right transposed', a: [130, 20], b: [8, 20], ta: false, tb: true },
    { name: 'both transposed, batched', a: [3, 9, 5], b: [3, 16, 9], ta: true, tb: true },
    { name: 'batched, left broadcast', a: [1, 6, 4], b: [5, 4, 8], ta: false, tb: false },
    { name: 'columns not a multiple of 8 (the shipped kernel)', a: [6, 4], b: [4, 6], ta: false, tb: false },
  ];
  for (const c of cases) {
    it(`matches the cpu backend (${c.name})`, async () => {
      const cpu = await product('cpu', c.a, c.b, c.ta, c.tb);
      const wasm = await product('wasm', c.a, c.b, c.ta, c.tb);
      expect(wasm.shape).toEqual(cpu.shape);
      expect(wasm.leaked).toBe(0);
      const scale = Math.max(...cpu.values.map(Math.abs));
      const worst = Math.max(...cpu.values.map((v, i) => Math.abs(v - (wasm.values[i] as number))));
      expect(worst / scale).toBeLessThan(1e-5);
    });
  }
});
