/** What every benchmark prints as its last stdout line (JSON), for bench/run.ts to collect. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The comparison measured in the same run. */
  baseline: { name: string; value: number };
  /**
   * value / baseline.value, oriented so that higher is better for the product; where a bench pairs
   * each measurement with its own baseline, the median of the pairs' ratios (its name says so).
   */
  ratio: number;
  goal?: string;
}

export interface BenchReport {
  bench: string;
  /** When the figures were measured (set by emit). */
  date?: string;
  notes?: string[];
  figures: Figure[];
}

export function emit(report: BenchReport): void {
  console.log(JSON.stringify({ ...report, date: new Date().toISOString() }));
}

/**
 * Median of several timed repetitions after one untimed warm-up (caches, JIT, a fresh database):
 * these machines are noisy, so one run says little.
 */
export async function medianSeconds(runs: number, fn: () => Promise<void>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}
