import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { relativeError, sinusoid } from '../test/float-comparison.ts';
import { prepareTraining } from './wasm-training-kernels.ts';

/**
 * The input and filter gradients of sum(conv(x, w) * sin(position)) on one backend, as plain
 * numbers; `conv` is conv2d unless another convolution is given.
 */
async function gradients(
  backend: string,
  x: Float32Array,
  xShape: [number, number, number, number],
  w: Float32Array,
  wShape: [number, number, number, number],
  stride: number,
  pad: 'same' | 'valid',
  conv: (a: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor4D = (a, f) => tf.conv2d(a, f, stride, pad),
): Promise<{ dx: Float32Array; dw: Float32Array }> {
  await tf.setBackend(backend);
  const xt = tf.tensor4d(x, xShape);
  const wt = tf.tensor4d(w, wShape);
  // A non-uniform upstream gradient, so every output position weighs differently.
  const g = tf.grads((a: tf.Tensor, f: tf.Tensor) => {
    const y = conv(a as tf.Tensor4D, f as tf.Tensor4D);
    return tf.sum(tf.mul(y, tf.sin(tf.reshape(tf.range(0, y.size), y.shape))));
  });
  const [dx, dw] = g([xt, wt]) as [tf.Tensor, tf.Tensor];
  const out = { dx: (await dx.data()) as Float32Array, dw: (await dw.data()) as Float32Array };
  tf.dispose([xt, wt, dx, dw]);
  return out;
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    await initTfjs();
    await prepareTraining();
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
    { name: '3x3 same, stride 2, odd sizes', x: [2, 13, 11, 5], w: [3, 3, 5, 6], stride: 2, pad: 'same' },
    { name: '3x3 valid, stride 2', x: [2, 13, 11, 5], w: [3, 3, 5, 6], stride: 2, pad: 'valid' },
    { name: '7x7 same, stride 2', x: [2, 16, 16, 3], w: [7, 7, 3, 8], stride: 2, pad: 'same' },
    { name: '5x5 valid, stride 1', x: [3, 10, 10, 2], w: [5, 5, 2, 4], stride: 1, pad: 'valid' },
    { name: '1x1 valid, stride 2', x: [2, 8, 8, 16], w: [1, 1, 16, 32], stride: 2, pad: 'valid' },
    { name: '3x3 same, stride 1, widening', x: [2, 9, 7, 8], w: [3, 3, 8, 16], stride: 1, pad: 'same' },
    { name: '3x3 same, stride 1, narrowing', x: [2, 8, 8, 16], w: [3, 3, 16, 4], stride: 1, pad: 'same' },
    // Thin inputs, whose filter gradient gathers patches instead of transposing.
    { name: '3x3 same, stride 1, one channel', x: [5, 14, 14, 1], w: [3, 3, 1, 16], stride: 1, pad: 'same' },
    { name: '3x3 same, stride 2, one channel, odd sizes', x: [3, 13, 11, 1], w: [3, 3, 1, 4], stride: 2, pad: 'same' },
    { name: '3x3 valid, stride 1, three channels', x: [2, 9, 10, 3], w: [3, 3, 3, 5], stride: 1, pad: 'valid' },
  ];
  for (const c of cases) {
    it(`Conv2D's input and filter gradients (${c.name}) match the cpu backend`, async () => {
      const x = sinusoid(
        c.x.reduce((a, b) => a * b),
        1,
      );
      const w = sinusoid(
        c.w.reduce((a, b) => a * b),
        2,
      );
      const cpu = await gradients('cpu', x, c.x, w, c.w, c.stride, c.pad);
      const wasm = await gradients('wasm', x, c.x, w, c.w, c.stride, c.pad);
      // float32, summed in another order: agreement to about 1e-5 of the largest entry.
      expect(relativeError(cpu.dw, wasm.dw)).toBeLessThan(1e-4);
      expect(relativeError(cpu.dx, wasm.dx)).toBeLessThan(1e-4);
    });
  }

  const depthwiseCases: {
    name: string;
    x: [number, number, number, number];
    w: [number, number, number, number];
    stride: number;
    pad: 'same' | 'valid';
  }[] = [
    { name: '3x3 same, stride 1', x: [4, 12, 12, 6], w: [3, 3, 6, 1], stride: 1, pad: 'same' },
    {
      name: '3x3 valid, stride 1, multiplier 2, odd sizes',
      x: [2, 13, 11, 5],
      w: [3, 3, 5, 2],
      stride: 1,
      pad: 'valid',
    },
    { name: '3x3 same, stride 2, odd sizes', x: [2, 13, 11, 5], w: [3, 3, 5, 1], stride: 2, pad: 'same' },
    { name: '5x5 valid, stride 2, multiplier 3', x: [2, 15, 12, 4], w: [5, 5, 4, 3], stride: 2, pad: 'valid' },
    { name: '3x3 same, stride 2, multiplier 2, even sizes', x: [3, 8, 8, 3], w: [3, 3, 3, 2], stride: 2, pad: 'same' },
  ];
  for (const c of depthwiseCases) {
    it(`DepthwiseConv2dNative's input and filter gradients (${c.name}) match the cpu backend`, async () => {
      const x = sinusoid(
        c.x.reduce((a, b) => a * b),
        3,
      );
      const w = sinusoid(
        c.w.reduce((a, b) => a * b),
        4,
      );
      const depthwise = (a: tf.Tensor4D, f: tf.Tensor4D) => tf.depthwiseConv2d(a, f, c.stride, c.pad);
      const cpu = await gradients('cpu', x, c.x, w, c.w, c.stride, c.pad, depthwise);
      await tf.setBackend('wasm');
      const buffers = () => tf.engine().backend.numDataIds();
      const before = buffers();
      const wasm = await gradients('wasm', x, c.x, w, c.w, c.stride, c.pad, depthwise);
      // The kernels free every intermediate buffer they make.
      expect(buffers()).toBe(before);
      expect(relativeError(cpu.dw, wasm.dw)).toBeLessThan(1e-4);
      expect(relativeError(cpu.dx, wasm.dx)).toBeLessThan(1e-4);
    });
  }

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
