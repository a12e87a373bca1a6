import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { testImages } from '../e2e/fixtures/campaign-api.ts';
import { npyHeader } from '../server/src/export/npy-format.ts';
import { initTfjs } from '../server/src/priors/tfjs-runtime.ts';
import { trainStudent } from '../server/src/training/student-trainer.ts';
import { prepareTraining } from '../server/src/training/wasm-training-kernels.ts';
import { emit, type Figure } from './bench-report.ts';

/**
 * Student-training throughput (ConvNet, batch 128, MSE to 64-d targets, AdamW) on the same
 * Fashion-MNIST images, measured in one run: TF.js on wasm with the project's training kernels,
 * TF.js on its plain cpu backend, and PyTorch on the CPU (Debian's python3-torch).
 */
const BATCH = 128;
const COUNT = Number(process.env.BENCH_TRAIN_IMAGES ?? 1024);
/** The cpu backend is so slow that one short epoch of a few batches is all a run can afford. */
const CPU_COUNT = 128;
const N = 64;

const pixels = testImages(COUNT);
const targets = Float32Array.from({ length: COUNT * N }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.011));

async function tfjsImagesPerSecond(backend: 'wasm' | 'cpu', count: number, epochs: number): Promise<number> {
  await tf.setBackend(backend);
  const { student, history } = await trainStudent(
    {
      pixels: pixels.subarray(0, count * 784),
      shape: [count, 28, 28, 1],
      objective: { kind: 'regression', targets: targets.subarray(0, count * N), targetDim: N },
    },
    {
      architecture: 'convnet',
      epochs,
      batchSize: BATCH,
      seed: 1,
      onEpoch: (e) =>
        void process.stderr.write(`${backend} epoch ${e.epoch}: ${e.imagesPerSecond.toFixed(1)} images/s\n`),
    },
  );
  student.dispose();
  // The last epoch: with two or more, kernels and memory were warmed by the first.
  return (history.at(-1) as (typeof history)[number]).imagesPerSecond;
}

await initTfjs();
await prepareTraining();
const figures: Figure[] = [];
const notes: string[] = [`${os.cpus().length} cores; TF.js's wasm backend runs one thread in Node`];

/** Rounds of TF.js wasm and PyTorch, interleaved so that a slow spell of this shared machine falls on both. */
const ROUNDS = 3;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
const wasmRuns: number[] = [];
const cpu = await tfjsImagesPerSecond('cpu', CPU_COUNT, 1);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-train-bench-'));
const npy = (descr: '|u1' | '<f4', shape: number[], data: ArrayBufferView) =>
  Buffer.concat([npyHeader(descr, shape), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
fs.writeFileSync(path.join(dir, 'x.npy'), npy('|u1', [COUNT, 28, 28], pixels));
fs.writeFileSync(path.join(dir, 'y.npy'), npy('<f4', [COUNT, N], targets));
/** PyTorch's images/s and threads, or why there is no figure. */
function pytorchRun(): { imagesPerSecond: number; threads: number } | string {
  const py = spawnSync(
    '/usr/bin/python3',
    [
      path.join(import.meta.dirname, 'pytorch_student.py'),
      path.join(dir, 'x.npy'),
      path.join(dir, 'y.npy'),
      String(BATCH),
      '2',
    ],
    { encoding: 'utf8' },
  );
  const last = py.stdout.trim().split('\n').at(-1) ?? '';
  if (py.status === 0 && last.startsWith('{')) return JSON.parse(last) as { imagesPerSecond: number; threads: number };
  return (py.stderr || py.error?.message || '').trim().split('\n').at(-1) ?? 'no output';
}
const torchRuns: number[] = [];
let torchThreads = 0;
let torchMissing: string | null = null;
try {
  for (let r = 0; r < ROUNDS; r++) {
    wasmRuns.push(await tfjsImagesPerSecond('wasm', COUNT, 2));
    const torch: ReturnType<typeof pytorchRun> = torchMissing === null ? pytorchRun() : torchMissing;
    if (typeof torch === 'string') torchMissing = torch;
    else {
      torchRuns.push(torch.imagesPerSecond);
      torchThreads = torch.threads;
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const wasm = median(wasmRuns);
notes.push(
  `median of ${ROUNDS} rounds, TF.js and PyTorch interleaved; TF.js wasm: ${wasmRuns.map((v) => v.toFixed(0)).join(', ')} images/s`,
);
figures.push({
  name: `ConvNet student, batch ${BATCH}: TF.js wasm + project kernels vs TF.js cpu backend`,
  value: wasm,
  unit: 'images/s',
  baseline: { name: 'TF.js cpu backend', value: cpu },
  ratio: wasm / cpu,
  goal: '>= 10x',
});
if (torchMissing !== null && torchRuns.length === 0)
  notes.push(`PyTorch is not available here (${torchMissing}); no PyTorch figure`);
else {
  const torch = median(torchRuns);
  notes.push(`PyTorch ran ${torchThreads} thread(s): ${torchRuns.map((v) => v.toFixed(0)).join(', ')} images/s`);
  figures.push({
    name: `ConvNet student, batch ${BATCH}: TF.js wasm + project kernels vs PyTorch CPU`,
    value: wasm,
    unit: 'images/s',
    baseline: { name: `PyTorch CPU, ${torchThreads} thread(s)`, value: torch },
    ratio: wasm / torch,
    goal: '>= 0.5x',
  });
}
emit({ bench: 'student-training', notes, figures });
