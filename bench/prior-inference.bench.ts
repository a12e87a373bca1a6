import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { convertOnnxToTfjs, WEIGHTS_FILE } from '@coopt/shared/converter';
import ort from 'onnxruntime-node';
import { launchChromium } from '../e2e/fixtures/browser.ts';
import { emit, type Figure } from './bench-report.ts';
import { startBenchServer } from './bench-server.ts';

/**
 * Images per second of a converted prior in TF.js against onnxruntime-web on the same model,
 * batch, backend and thread count, inside headless Chromium; and against onnxruntime-node on
 * the same machine in the same run. BENCH_BACKENDS=wasm,webgpu picks the browser backends.
 */
const zoo = path.resolve(import.meta.dirname, '../zoo');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const backends = (process.env.BENCH_BACKENDS ?? 'wasm').split(',');

interface BenchModel {
  name: string;
  file: string;
  batch: number;
  feature?: string;
}

const models: BenchModel[] = [
  { name: 'resnet-sup', file: path.join(zoo, 'models/resnet-sup.onnx'), batch: 64, feature: 'features' },
  { name: 'mobilenet-sup', file: path.join(zoo, 'models/mobilenet-sup.onnx'), batch: 64, feature: 'features' },
  { name: 'mobilenet_v2 (224x224)', file: path.join(zoo, 'conformance/mobilenet_v2.onnx'), batch: 4 },
].filter((m) => fs.existsSync(m.file));

/** onnxruntime-node on the same model, batch and thread count, in this process. */
async function benchOrtNode(bytes: Uint8Array, batch: number, shape: number[], threads: number): Promise<number> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const input = new ort.Tensor(
    'float32',
    new Float32Array(batch * shape.reduce((a, b) => a * b, 1)).map(() => Math.random() - 0.5),
    [batch, ...shape],
  );
  const feeds = { [session.inputNames[0] as string]: input };
  for (let w = 0; w < 3; w++) await session.run(feeds);
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000 || runs < 3) {
    await session.run(feeds);
    runs++;
  }
  await session.release();
  return (runs * batch) / ((performance.now() - t0) / 1000);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-bench-models-'));
const server = await startBenchServer(dir);
const browser = await launchChromium();
const figures: Figure[] = [];
const notes: string[] = [];

try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/inference.html`);
  const threads = await page.evaluate(() => navigator.hardwareConcurrency);
  notes.push(
    `navigator.hardwareConcurrency ${threads}; each runtime gets the thread count TF.js's wasm backend settles on`,
  );

  for (const [i, m] of models.entries()) {
    const key = `m${i}`;
    const bytes = fs.readFileSync(m.file);
    const { artifacts, metadata } = convertOnnxToTfjs(bytes, m.feature ? { featureTensor: m.feature } : {});
    fs.mkdirSync(path.join(dir, key), { recursive: true });
    fs.writeFileSync(path.join(dir, key, 'model.json'), JSON.stringify(artifacts.modelJson));
    fs.writeFileSync(path.join(dir, key, WEIGHTS_FILE), artifacts.weightData);
    fs.writeFileSync(path.join(dir, key, 'model.onnx'), bytes);
    const shape = [metadata.inputChannels, metadata.inputHeight, metadata.inputWidth];
    const args = { model: key, batch: m.batch, threads, seconds: SECONDS, shape };

    for (const backend of backends) {
      // A fresh page per runtime: neither inherits the other's threads or GPU state.
      const run = async (fn: 'benchTfjs' | 'benchOrt', withThreads = threads) => {
        const p = await browser.newPage();
        await p.goto(`${server.url}/inference.html`);
        const r = await p.evaluate(
          ([f, a]) =>
            (
              window as unknown as Record<
                string,
                (x: unknown) => Promise<{ ips: number; threads: number | null; crossOriginIsolated: boolean }>
              >
            )[f as string]?.(a),
          [fn, { ...args, threads: withThreads, backend }] as const,
        );
        await p.close();
        if (!r) throw new Error(`${fn} returned nothing`);
        return r;
      };
      const tfjs = await run('benchTfjs');
      // TF.js's wasm backend uses at most half the cores; onnxruntime gets exactly as many threads.
      const same = tfjs.threads ?? threads;
      const ortWeb = await run('benchOrt', same);
      const ortNode = await benchOrtNode(bytes, m.batch, shape, same);
      if (!tfjs.crossOriginIsolated) notes.push('page was not cross-origin isolated: wasm ran single-threaded');
      if (backend === 'wasm')
        notes.push(
          `${m.name}: threads: TF.js wasm ${tfjs.threads}, onnxruntime-web ${ortWeb.threads}, onnxruntime-node ${same}`,
        );
      figures.push({
        name: `${m.name}, batch ${m.batch}: TF.js ${backend} vs onnxruntime-web ${backend}`,
        value: tfjs.ips,
        unit: 'images/s',
        baseline: { name: `onnxruntime-web ${backend}`, value: ortWeb.ips },
        ratio: tfjs.ips / ortWeb.ips,
        goal: '>= 1.0x',
      });
      figures.push({
        name: `${m.name}, batch ${m.batch}: TF.js ${backend} (Chromium) vs onnxruntime-node (CPU)`,
        value: tfjs.ips,
        unit: 'images/s',
        baseline: { name: 'onnxruntime-node', value: ortNode },
        ratio: tfjs.ips / ortNode,
        goal: '>= 0.5x',
      });
    }
  }
} finally {
  await browser.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

emit({ bench: `prior-inference-${backends.join('-')}`, notes, figures });
