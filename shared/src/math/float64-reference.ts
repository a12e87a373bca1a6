/**
 * Plain float64 implementations of the CoOpt math, written for clarity, not speed: the tests
 * hold the tfjs-core versions to these.
 */
export type Matrix = number[][];

export function uniformity64(f: Matrix, t = 2): number {
  const u = f.map((row) => {
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0)) || 1;
    return row.map((v) => v / norm);
  });
  let sum = 0;
  for (const [i, ui] of u.entries()) {
    for (const [j, uj] of u.entries()) {
      if (i === j) continue;
      const d = ui.reduce((s, v, k) => s + (v - (uj[k] as number)) ** 2, 0);
      sum += Math.exp(-t * d);
    }
  }
  return Math.log(sum / (u.length * (u.length - 1)));
}

/** Solves A x = b (A square) by Gaussian elimination with partial pivoting. */
export function solve64(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...(b[i] as number[])]);
  const cols = (b[0] as number[]).length;
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++)
      if (Math.abs((m[r] as number[])[c] as number) > Math.abs((m[pivot] as number[])[c] as number)) pivot = r;
    [m[c], m[pivot]] = [m[pivot] as number[], m[c] as number[]];
    const row = m[c] as number[];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const other = m[r] as number[];
      const k = (other[c] as number) / (row[c] as number);
      for (let j = c; j < n + cols; j++) other[j] = (other[j] as number) - k * (row[j] as number);
    }
  }
  return m.map((row, i) => row.slice(n).map((v) => v / (row[i] as number)));
}

const mean = (x: Matrix) => (x[0] as number[]).map((_, j) => x.reduce((s, r) => s + (r[j] as number), 0) / x.length);

/** Ridge with an unpenalised bias, lambda relative to the mean feature variance, as fitAlignment does. */
export function ridge64(f: Matrix, y: Matrix, lambdaRel: number): { weights: Matrix; bias: number[] } {
  const mf = mean(f);
  const my = mean(y);
  const fc = f.map((r) => r.map((v, j) => v - (mf[j] as number)));
  const yc = y.map((r) => r.map((v, j) => v - (my[j] as number)));
  const l = mf.length;
  const a: Matrix = Array.from({ length: l }, (_, i) =>
    Array.from({ length: l }, (_, j) => fc.reduce((s, r) => s + (r[i] as number) * (r[j] as number), 0)),
  );
  const lambda = (lambdaRel * a.reduce((s, r, i) => s + (r[i] as number), 0)) / l;
  for (let i = 0; i < l; i++) (a[i] as number[])[i] = ((a[i] as number[])[i] as number) + lambda;
  const b: Matrix = Array.from({ length: l }, (_, i) =>
    my.map((_, j) => fc.reduce((s, r, k) => s + (r[i] as number) * ((yc[k] as number[])[j] as number), 0)),
  );
  const weights = solve64(a, b);
  const bias = my.map((v, j) => v - mf.reduce((s, m, i) => s + m * ((weights[i] as number[])[j] as number), 0));
  return { weights, bias };
}

export function predict64(f: Matrix, fit: { weights: Matrix; bias: number[] }): Matrix {
  return f.map((r) =>
    fit.bias.map((b, j) => b + r.reduce((s, v, i) => s + v * ((fit.weights[i] as number[])[j] as number), 0)),
  );
}

export function r2_64(y: Matrix, pred: Matrix): number {
  const my = mean(y);
  let res = 0;
  let tot = 0;
  for (const [i, r] of y.entries()) {
    for (const [j, v] of r.entries()) {
      res += (v - ((pred[i] as number[])[j] as number)) ** 2;
      tot += (v - (my[j] as number)) ** 2;
    }
  }
  return 1 - res / tot;
}

/** G with the same directions, bins and common range as globalInconsistency, in float64. */
export function inconsistency64(participants: Matrix[], directions: Matrix /* n x count */, bins: number): number {
  const count = (directions[0] as number[]).length;
  let total = 0;
  let terms = 0;
  for (let d = 0; d < count; d++) {
    const proj = participants.map((y) =>
      y.map((r) => r.reduce((s, v, k) => s + v * ((directions[k] as number[])[d] as number), 0)),
    );
    const all = proj.flat();
    const lo = Math.min(...all);
    const width = Math.max(Math.max(...all) - lo, 1e-12);
    const hists = proj.map((p) => {
      const h = new Array<number>(bins).fill(0);
      for (const v of p) {
        const bin = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / width) * bins)));
        h[bin] = (h[bin] as number) + 1;
      }
      return h.map((c) => c / p.length);
    });
    for (let i = 0; i < hists.length; i++) {
      for (let j = i + 1; j < hists.length; j++) {
        total +=
          0.5 * (hists[i] as number[]).reduce((s, v, k) => s + Math.abs(v - ((hists[j] as number[])[k] as number)), 0);
        terms++;
      }
    }
  }
  return total / terms;
}
