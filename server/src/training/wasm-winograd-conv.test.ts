import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { relativeError, sinusoid } from '../test/float-comparison.ts';
import { convInfo } from './wasm-kernel-runner.ts';
import { prepareTraining } from './wasm-training-kernels.ts';
import { winogradFits } from './wasm-winograd-conv.ts';

/** The output, input gradient and filter gradient of sum(conv(x, w) * sin(position)) on one backend. */
async function convolution(
  backend: string,
  xShape: [number, number, number, number],
  wShape: [number, number, number, number],
) {
  await tf.setBackend(backend);
  const x = tf.tensor4d(
    sinusoid(
      xShape.reduce((a, b) => a * b),
      1,
    ),
    xShape,
  );
  const w = tf.tensor4d(
    sinusoid(
      wShape.reduce((a, b) => a * b),
      2,
    ),
    wShape,
  );
  const buffers = tf.engine().backend.numDataIds();
  const y = tf.conv2d(x, w, 1, 'same');
  const [dx, dw] = tf.grads((a: tf.Tensor, f: tf.Tensor) => {
    const out = tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same');
    return tf.sum(tf.mul(out, tf.sin(tf.reshape(tf.range(0, out.size), out.shape))));
  })([x, w]) as [tf.Tensor, tf.Tensor];
  const out = {
    y: (await y.data()) as Float32Array,
    dx: (await dx.data()) as Float32Array,
    dw: (await dw.data()) as Float32Array,
  };
  tf.dispose([y, dx, dw]);
  const leaked = tf.engine().backend.numDataIds() - buffers;
  tf.dispose([x, w]);
  return { ...out, leaked };
}

describe('Winograd F(2x2, 3x3) convolution on wasm', () => {
  beforeAll(async () => {
    await initTfjs();
    await prepareTraining();
  });

  const cases: { name: string; x: [number, number, number, number]; w: [number, number, number, number] }[] = [
    // 90 tiles: the filter gradient's sum over tiles runs in a full chunk of 64 and a part.
    { name: 'even sizes, widening', x: [3, 10, 12, 8], w: [3, 3, 8, 24] },
    { name: 'odd sizes, narrowing', x: [2, 9, 7, 16], w: [3, 3, 16, 8] },
    { name: "a 7x7 map, as the ConvNet's last layer", x: [2, 7, 7, 16], w: [3, 3, 16, 32] },
    // One tile: the products' blocks of 4 rows hold one.
    { name: 'one image, one tile', x: [1, 2, 2, 8], w: [3, 3, 8, 8] },
  ];
  for (const c of cases) {
    it(`matches the cpu backend's output and gradients (${c.name})`, async () => {
      expect(winogradFits(tf.findBackend('wasm'), c.w, convInfo(c.x, c.w, 1, 'same'))).toBe(true);
      const cpu = await convolution('cpu', c.x, c.w);
      const wasm = await convolution('wasm', c.x, c.w);
      expect(wasm.leaked).toBe(0);
      // float32 in another order of summation (and, for Winograd, with the transforms' rounding).
      expect(relativeError(cpu.y, wasm.y)).toBeLessThan(1e-5);
      expect(relativeError(cpu.dx, wasm.dx)).toBeLessThan(1e-5);
      expect(relativeError(cpu.dw, wasm.dw)).toBeLessThan(1e-4);
    });
  }

  it('takes only 3x3 stride-1 same convolutions whose channel counts are multiples of 8', () => {
    const fits = (x: number[], w: number[], stride = 1, pad: 'same' | 'valid' = 'same') =>
      winogradFits(tf.findBackend('wasm'), w, convInfo(x, w, stride, pad));
    expect(fits([1, 8, 8, 8], [3, 3, 8, 8])).toBe(true);
    expect(fits([1, 8, 8, 1], [3, 3, 1, 32])).toBe(false);
    expect(fits([1, 8, 8, 12], [3, 3, 12, 8])).toBe(false);
    expect(fits([1, 8, 8, 8], [3, 3, 8, 4])).toBe(false);
    expect(fits([1, 8, 8, 8], [3, 3, 8, 8], 2)).toBe(false);
    expect(fits([1, 8, 8, 8], [3, 3, 8, 8], 1, 'valid')).toBe(false);
    expect(fits([1, 8, 8, 8], [5, 5, 8, 8])).toBe(false);
  });
});
