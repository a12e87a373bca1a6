/** Ranks from 1, ties sharing the mean of the ranks they span. */
export function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (
      j + 1 < order.length &&
      (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]
    )
      j++;
    for (let k = i; k <= j; k++) out[(order[k] as readonly [number, number])[1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/**
 * Spearman's rank correlation ρ: Pearson's correlation of the ranks (which handles ties), as the
 * paper uses to relate uniformity values to accuracy. NaN with fewer than two points or a constant side.
 */
export function spearmanRho(x: number[], y: number[]): number {
  if (x.length !== y.length) throw new Error(`${x.length} values against ${y.length}`);
  if (x.length < 2) return Number.NaN;
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (x.length + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const a = (rx[i] as number) - mean;
    const b = (ry[i] as number) - mean;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  return sxx === 0 || syy === 0 ? Number.NaN : sxy / Math.sqrt(sxx * syy);
}
