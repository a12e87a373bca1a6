import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchReport } from './bench-report.ts';

/**
 * Runs every `*.bench.ts` here in its own process (or only those named on the command line),
 * then writes bench/results/<bench>.json and bench/results/latest.md.
 */
const benchDir = import.meta.dirname;
const resultsDir = path.join(benchDir, 'results');
const only = process.argv.slice(2);
const files = fs
  .readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const tsx = path.join(benchDir, '../node_modules/.bin/tsx');
const reports: BenchReport[] = [];
const failures: string[] = [];
fs.mkdirSync(resultsDir, { recursive: true });

for (const file of files) {
  process.stderr.write(`bench ${file} ...\n`);
  const res = spawnSync(tsx, [path.join(benchDir, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const last = res.stdout.trim().split('\n').at(-1) ?? '';
  if (res.status !== 0 || !last.startsWith('{')) {
    failures.push(`${file} exited ${res.status}`);
    continue;
  }
  const report = JSON.parse(last) as BenchReport;
  reports.push(report);
  fs.writeFileSync(path.join(resultsDir, `${report.bench}.json`), `${JSON.stringify(report, null, 2)}\n`);
}

// latest.md lists every recorded result, so running one benchmark keeps the others' figures.
for (const file of fs
  .readdirSync(resultsDir)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  const report = JSON.parse(fs.readFileSync(path.join(resultsDir, file), 'utf8')) as BenchReport;
  if (!reports.some((r) => r.bench === report.bench)) reports.push(report);
}
reports.sort((a, b) => a.bench.localeCompare(b.bench));

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
const lines = [
  '# Benchmark results',
  '',
  `- date: ${new Date().toISOString()}`,
  `- machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}`,
  `- node ${process.version}, commit ${commit}`,
  '',
  'Each figure is a ratio against a comparison measured in the same run.',
  '',
  '| bench | figure | value | comparison | ratio | goal |',
  '|---|---|---|---|---|---|',
  ...reports.flatMap((r) =>
    r.figures.map(
      (f) =>
        `| ${r.bench} | ${f.name} | ${fmt(f.value)} ${f.unit} | ${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit} | ${f.ratio.toFixed(2)}x | ${f.goal ?? ''} |`,
    ),
  ),
  '',
  ...reports.flatMap((r) => [
    `- ${r.bench}: measured ${r.date ?? 'at an unknown date'}`,
    ...(r.notes ?? []).map((n) => `- ${r.bench}: ${n}`),
  ]),
  ...failures.map((f) => `- FAILED: ${f}`),
  '',
];
fs.writeFileSync(path.join(resultsDir, 'latest.md'), lines.join('\n'));
process.stdout.write(lines.join('\n'));
if (failures.length > 0) process.exit(1);
