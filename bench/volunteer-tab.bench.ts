import path from 'node:path';
import ort from 'onnxruntime-node';
import { launchChromium } from '../e2e/fixtures/browser.ts';
import { CampaignApi, zooModels } from '../e2e/fixtures/campaign-api.ts';
import { VolunteerPage } from '../e2e/fixtures/pages.ts';
import { startServer } from '../e2e/fixtures/server.ts';
import { emit, type Figure } from './bench-report.ts';

/**
 * Images per second of one real volunteer tab (the built web app, its compute worker, the real
 * server and a real campaign) on each TF.js backend, against onnxruntime-node on the same prior,
 * batch and image size in the same run. The tab's figure is the worker's own compute rate
 * (preprocessing, the prior, the alignment map and the async read-back; downloads excluded).
 * BENCH_BACKENDS picks the backends; BENCH_TAB_SECONDS caps each tab's run.
 */
const PRIOR = 'resnet-sup';
const BATCH = 32;
const IMAGES = 1000;
const backends = (process.env.BENCH_BACKENDS ?? 'wasm,webgl,webgpu').split(',');
const CAP_MS = Number(process.env.BENCH_TAB_SECONDS ?? 90) * 1000;

async function ortNodeImagesPerSecond(threads: number): Promise<number> {
  const session = await ort.InferenceSession.create(path.join(zooModels, `${PRIOR}.onnx`), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const input = new ort.Tensor(
    'float32',
    Float32Array.from({ length: BATCH * 784 }, () => Math.random() - 0.5),
    [BATCH, 1, 28, 28],
  );
  for (let w = 0; w < 3; w++) await session.run({ input });
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 4000) {
    await session.run({ input });
    runs++;
  }
  await session.release();
  return (runs * BATCH) / ((performance.now() - t0) / 1000);
}

const server = await startServer({ COOPT_LEASE_SECONDS: '60' });
const browser = await launchChromium();
const figures: Figure[] = [];
const notes: string[] = [];
try {
  const api = new CampaignApi(server);
  const datasetId = await api.importSubset('bench-1k', IMAGES);
  const prior = await api.priorId(PRIOR);
  for (const backend of backends) {
    const campaign = await api.post<{ id: number }>('/api/admin/campaigns', {
      name: `bench-${backend}`,
      datasetId,
      priorIds: [prior],
      shardSize: 300,
      sharedSetSize: 100,
      targetDim: 16,
      seed: 1,
      verification: { kind: 'none' },
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    const tab = new VolunteerPage(page, server.url);
    await tab.openWith({ backend, campaign: campaign.id });
    await tab.start();
    const t0 = Date.now();
    let done = false;
    while (!done && Date.now() - t0 < CAP_MS) {
      await new Promise((r) => setTimeout(r, 1000));
      done = (await api.stats(campaign.id)).round.status === 'complete';
    }
    const ips = Number(await page.getByTestId('speed').getAttribute('data-value'));
    const used = await tab.backend();
    const threads = await page.evaluate(() => navigator.hardwareConcurrency);
    await context.close();
    // The worker's wasm backend runs one thread here (the app is not cross-origin isolated), so
    // onnxruntime-node gets one thread too; for the GPU backends it is the CPU baseline as is.
    const ortThreads = backend === 'wasm' ? 1 : threads;
    const ortNode = await ortNodeImagesPerSecond(ortThreads);
    notes.push(
      `${backend}: the tab reported "${used}"; ${done ? 'finished the campaign' : `stopped after ${CAP_MS / 1000} s`}; onnxruntime-node ran ${ortThreads} thread(s)`,
    );
    figures.push({
      name: `${PRIOR}, batch ${BATCH}: volunteer tab on ${backend} vs onnxruntime-node`,
      value: ips,
      unit: 'images/s',
      baseline: { name: `onnxruntime-node, ${ortThreads} thread(s)`, value: ortNode },
      ratio: ips / ortNode,
    });
  }
} finally {
  await browser.close();
  await server.stop();
}
emit({ bench: 'volunteer-tab', notes, figures });
