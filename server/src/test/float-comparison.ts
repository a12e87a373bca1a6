import { expect } from 'vitest';

/** Deterministic test values in [-0.8, 0.8]. */
export const sinusoid = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.8);

/** The largest difference between two arrays, relative to the reference's largest entry. */
export function relativeError(reference: Float32Array, candidate: Float32Array): number {
  expect(candidate.length).toBe(reference.length);
  const scale = Math.max(...reference.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < reference.length; i++)
    worst = Math.max(worst, Math.abs((reference[i] as number) - (candidate[i] as number)));
  return worst / scale;
}
