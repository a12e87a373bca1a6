import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ALIGNMENT_RESIDUAL_TOLERANCE,
  alignmentSplit,
  checkAlignmentTask,
  defaultAlignmentTask,
  solveAlignmentTask,
} from './alignment-task.ts';
import { inconsistency64, type Matrix, predict64, r2_64, ridge64, uniformity64 } from './float64-reference.ts';
import { globalInconsistency, projectionDirections } from './inconsistency.ts';
import { randomProjection } from './random-projection.ts';
import { fitAlignment, heldOutR2 } from './ridge-alignment.ts';
import { SeededRandom } from './seeded-random.ts';
import { uniformityValue } from './uniformity.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Matrix {
  const rng = new SeededRandom(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal() * scale));
}

const toTensor = (m: Matrix) => tf.tensor2d(m);
const value = async (t: tf.Tensor) => ((await t.data()) as Float32Array)[0] as number;

describe('uniformity value (CoOpt Eq. 4)', () => {
  it('matches the float64 reference', async () => {
    for (const [m, l, seed] of [
      [50, 8, 1],
      [120, 64, 2],
      [300, 3, 3],
    ] as const) {
      const f = randomMatrix(m, l, seed);
      expect(await value(uniformityValue(toTensor(f)))).toBeCloseTo(uniformity64(f), 4);
    }
  });

  it('is lower for spread-out features than for collapsed ones (the minus sign matters)', async () => {
    const spread = randomMatrix(200, 16, 4);
    const collapsed = spread.map((r) => r.map((v, j) => (j === 0 ? 10 + v * 0.01 : v * 0.01)));
    const vs = await value(uniformityValue(toTensor(spread)));
    const vc = await value(uniformityValue(toTensor(collapsed)));
    expect(vs).toBeLessThan(vc);
    expect(vc).toBeCloseTo(0, 2); // all pairs at distance ~0: log(mean(exp(0))) = 0
  });
});

describe('seeded Gaussian projection', () => {
  it('is the same for the same seed, N(0, 1/n), and the identity when l == n', async () => {
    const a = (await randomProjection(64, 128, 7).data()) as Float32Array;
    const b = (await randomProjection(64, 128, 7).data()) as Float32Array;
    const c = (await randomProjection(64, 128, 8).data()) as Float32Array;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(variance).toBeGreaterThan(0.9 / 64);
    expect(variance).toBeLessThan(1.1 / 64);
    expect(Array.from((await randomProjection(5, 5, 1).data()) as Float32Array)).toEqual(
      Array.from((await tf.eye(5).data()) as Float32Array),
    );
  });
});

describe('ridge alignment (CoOpt step 4)', () => {
  it('matches the float64 ridge solution, bias included, with a small residual', async () => {
    const f = randomMatrix(400, 24, 10);
    const y = randomMatrix(400, 12, 11);
    const fit = await fitAlignment(toTensor(f), toTensor(y), { lambda: 1e-2 });
    const ref = ridge64(f, y, 1e-2);
    const w = (await fit.weights.array()) as Matrix;
    const b = (await fit.bias.array()) as number[];
    const scale = Math.max(...ref.weights.flat().map(Math.abs));
    for (const [i, row] of w.entries()) {
      for (const [j, v] of row.entries()) {
        expect(Math.abs(v - ((ref.weights[i] as number[])[j] as number)) / scale).toBeLessThan(1e-3);
      }
    }
    for (const [j, v] of b.entries()) expect(v).toBeCloseTo(ref.bias[j] as number, 3);
    expect(fit.relativeResidual).toBeLessThan(1e-4);
  });

  it('recovers a planted linear map with offset, and reports its held-out R^2 like the reference', async () => {
    const rng = new SeededRandom(12);
    const truth = randomMatrix(16, 8, 13);
    const offset = Array.from({ length: 8 }, () => rng.normal() * 3);
    const f = randomMatrix(600, 16, 14, 2);
    const y = predict64(f, { weights: truth, bias: offset }).map((r) => r.map((v) => v + rng.normal() * 0.05));
    const train = { f: f.slice(0, 500), y: y.slice(0, 500) };
    const held = { f: f.slice(500), y: y.slice(500) };
    const fit = await fitAlignment(toTensor(train.f), toTensor(train.y), { lambda: 1e-6 });
    const b = (await fit.bias.array()) as number[];
    for (const [j, v] of b.entries()) expect(v).toBeCloseTo(offset[j] as number, 1);
    const r2 = await value(heldOutR2(toTensor(held.f), toTensor(held.y), fit));
    const ref = r2_64(held.y, predict64(held.f, ridge64(train.f, train.y, 1e-6)));
    expect(r2).toBeCloseTo(ref, 4);
    expect(r2).toBeGreaterThan(0.99);
  });
});

describe('an align work item (CoOpt step 4 on a volunteer, checked by the server)', () => {
  const rows = 300;
  const f = randomMatrix(rows, 20, 30);
  const y = predict64(f, { weights: randomMatrix(20, 6, 31), bias: [1, -2, 0.5, 0, 3, -1] }).map((r, i) =>
    r.map((v, j) => v + Math.sin(i * 7 + j) * 0.3),
  );
  const ids = Uint32Array.from({ length: rows }, (_, i) => 1000 + i);
  const batch = (m: Matrix) => ({ ids, dim: (m[0] as number[]).length, values: Float32Array.from(m.flat()) });
  const task = defaultAlignmentTask(77);

  it('splits the shared set the same way every time, into disjoint fit and held-out rows', () => {
    const a = alignmentSplit(rows, task);
    expect(alignmentSplit(rows, task)).toEqual(a);
    expect(a.heldOut.length).toBe(60);
    expect(new Set([...a.fit, ...a.heldOut]).size).toBe(rows);
  });

  it('fits on the fit rows only, like the float64 ridge, and the server check passes it', async () => {
    const map = await solveAlignmentTask(batch(f), batch(y), task);
    expect(map.length).toBe(21 * 6);
    const split = alignmentSplit(rows, task);
    const pick = (m: Matrix, at: Int32Array) => Array.from(at, (i) => m[i] as number[]);
    const ref = ridge64(pick(f, split.fit), pick(y, split.fit), task.lambda);
    const scale = Math.max(...ref.weights.flat().map(Math.abs));
    for (let i = 0; i < 20 * 6; i++) {
      expect(Math.abs((map[i] as number) - (ref.weights.flat()[i] as number)) / scale).toBeLessThan(1e-3);
    }
    const check = await checkAlignmentTask(batch(f), batch(y), task, map);
    expect(check.residual).toBeLessThan(ALIGNMENT_RESIDUAL_TOLERANCE / 10);
    const heldRef = r2_64(pick(y, split.heldOut), predict64(pick(f, split.heldOut), ref));
    expect(check.heldOutR2).toBeCloseTo(heldRef, 3);
  });

  it('exposes a map that is not the ridge solution: a nudged weight or a wrong bias', async () => {
    const map = await solveAlignmentTask(batch(f), batch(y), task);
    const nudged = map.slice();
    nudged[5] = (nudged[5] as number) + 0.05;
    expect((await checkAlignmentTask(batch(f), batch(y), task, nudged)).residual).toBeGreaterThan(
      ALIGNMENT_RESIDUAL_TOLERANCE,
    );
    const biased = map.slice();
    biased[20 * 6] = (biased[20 * 6] as number) + 0.5;
    expect((await checkAlignmentTask(batch(f), batch(y), task, biased)).residual).toBeGreaterThan(
      ALIGNMENT_RESIDUAL_TOLERANCE,
    );
    await expect(checkAlignmentTask(batch(f), batch(y), task, map.subarray(6))).rejects.toThrow(/\[21, 6\]/);
  });
});

describe('global inconsistency G (CoOpt Eq. 3)', () => {
  it('matches the float64 estimate on the same projections', async () => {
    const parts = [
      randomMatrix(300, 10, 20),
      randomMatrix(300, 10, 21, 1.5),
      randomMatrix(250, 10, 22, 0.5).map((r) => r.map((v) => v + 1)),
    ];
    const g = await value(globalInconsistency(parts.map(toTensor), { directions: 8, bins: 16, seed: 3 }));
    const dirs = (await projectionDirections(10, 8, 3).array()) as Matrix;
    expect(g).toBeCloseTo(inconsistency64(parts, dirs, 16), 2);
  });

  it('is near zero for participants drawn from one distribution and grows when they differ', async () => {
    const same = [randomMatrix(2000, 6, 30), randomMatrix(2000, 6, 31)];
    const shifted = [randomMatrix(2000, 6, 30), randomMatrix(2000, 6, 31).map((r) => r.map((v) => v * 3 + 2))];
    const gSame = await value(globalInconsistency(same.map(toTensor)));
    const gShifted = await value(globalInconsistency(shifted.map(toTensor)));
    expect(gSame).toBeLessThan(0.1);
    expect(gShifted).toBeGreaterThan(0.4);
  });
});
