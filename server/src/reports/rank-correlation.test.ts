import { describe, expect, it } from 'vitest';
import { ranks, spearmanRho } from './rank-correlation.ts';

describe('Spearman rank correlation', () => {
  it('is 1 for any increasing relation and -1 for a decreasing one', () => {
    const x = [0.3, -1.2, 4, 2.5, 0];
    expect(
      spearmanRho(
        x,
        x.map((v) => Math.exp(v)),
      ),
    ).toBeCloseTo(1, 12);
    expect(
      spearmanRho(
        x,
        x.map((v) => -(v ** 3)),
      ),
    ).toBeCloseTo(-1, 12);
  });

  it('matches 1 - 6 Σd² / (n(n² - 1)) without ties, and averages tied ranks', () => {
    const x = [1, 2, 3, 4, 5];
    const y = [2, 1, 4, 3, 5];
    // d = [1, -1, 1, -1, 0]: 1 - 6 * 4 / (5 * 24) = 0.8
    expect(spearmanRho(x, y)).toBeCloseTo(0.8, 12);
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    expect(spearmanRho([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});
