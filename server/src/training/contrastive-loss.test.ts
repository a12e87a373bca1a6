import { SeededRandom } from '@coopt/shared/math';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { ntXentLoss } from './contrastive-loss.ts';
import { augmentImages } from './image-augment.ts';

/** NT-Xent written out row by row in float64. */
function ntXent64(a: number[][], b: number[][], temperature: number): number {
  const z = [...a, ...b].map((r) => {
    const norm = Math.sqrt(r.reduce((s, v) => s + v * v, 0));
    return r.map((v) => v / norm);
  });
  const rows = a.length;
  let total = 0;
  z.forEach((zi, i) => {
    const positive = i < rows ? i + rows : i - rows;
    let denominator = 0;
    let numerator = 0;
    z.forEach((zj, j) => {
      if (i === j) return;
      const e = Math.exp(zi.reduce((s, v, k) => s + v * (zj[k] as number), 0) / temperature);
      denominator += e;
      if (j === positive) numerator = e;
    });
    total += -Math.log(numerator / denominator);
  });
  return total / z.length;
}

describe('contrastive training pieces', () => {
  it('ntXentLoss matches a float64 NT-Xent, and is lower when the views agree', async () => {
    await initTfjs();
    const rng = new SeededRandom(5);
    const rows = 6;
    const dim = 5;
    const a = Array.from({ length: rows }, () => Array.from({ length: dim }, () => rng.normal()));
    const b = Array.from({ length: rows }, () => Array.from({ length: dim }, () => rng.normal()));
    for (const temperature of [0.1, 0.5, 1]) {
      const loss = ntXentLoss(tf.tensor2d(a), tf.tensor2d(b), temperature);
      expect(((await loss.data()) as Float32Array)[0]).toBeCloseTo(ntXent64(a, b, temperature), 4);
      loss.dispose();
    }
    const near = b.map((r, i) => r.map((v, k) => (a[i]?.[k] as number) + 0.01 * v));
    const agree = ntXentLoss(tf.tensor2d(a), tf.tensor2d(near), 0.5);
    expect(((await agree.data()) as Float32Array)[0]).toBeLessThan(ntXent64(a, b, 0.5));
    agree.dispose();
  });

  it('augmented views are crops, flips and jitter drawn per image from the seed', async () => {
    await initTfjs();
    const image = Float32Array.from({ length: 2 * 8 * 8 }, (_, i) => (i % 8) + Math.floor(i / 64) * 100);
    const x = tf.tensor4d(image, [2, 8, 8, 1]);
    // Full-size crops: every image is itself or its mirror image.
    const views = augmentImages(x, new SeededRandom(1), { minCropSide: 1, jitter: 0 });
    const v = (await views.data()) as Float32Array;
    for (let n = 0; n < 2; n++) {
      const row = Array.from(v.subarray(n * 64, n * 64 + 8), Math.round);
      const base = n * 100;
      const straight = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => base + k);
      expect([straight, [...straight].reverse()]).toContainEqual(row);
    }
    const again = augmentImages(x, new SeededRandom(1), { minCropSide: 0.5, jitter: 0.4 });
    const twice = augmentImages(x, new SeededRandom(1), { minCropSide: 0.5, jitter: 0.4 });
    const other = augmentImages(x, new SeededRandom(2), { minCropSide: 0.5, jitter: 0.4 });
    expect(Array.from((await again.data()) as Float32Array)).toEqual(Array.from((await twice.data()) as Float32Array));
    expect(Array.from((await again.data()) as Float32Array)).not.toEqual(
      Array.from((await other.data()) as Float32Array),
    );
    tf.dispose([x, views, again, twice, other]);
  });
});
