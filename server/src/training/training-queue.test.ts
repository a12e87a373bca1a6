import fs from 'node:fs';
import zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { asc } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownSources } from '../datasets/known-sources.ts';
import { trainingRuns } from '../db/schema.ts';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { idxImages, idxLabels } from '../test/dataset-files.ts';
import { createTestApp } from '../test/test-app.ts';
import { databaseKinds } from '../test/test-database.ts';
import { NodeVolunteer, workUntilIdle } from '../volunteers/node-volunteer.ts';
import { startTrainingQueue } from './training-queue.ts';

const COUNT = 600;

function demoSplit() {
  const source = knownSources.find((s) => s.id === 'fashion-mnist-test');
  if (!source) throw new Error('no demo data');
  return {
    pixels: zlib.gunzipSync(fs.readFileSync(source.images)).subarray(16, 16 + COUNT * 784),
    labels: [...zlib.gunzipSync(fs.readFileSync(source.labels)).subarray(8, 8 + COUNT)],
  };
}

describe.each(databaseKinds())('student-training jobs on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let campaignId: number;

  beforeAll(async () => {
    t = await createTestApp(kind);
    const { pixels, labels } = demoSplit();
    const ds = await t.postJson('/api/admin/datasets', {
      format: 'idx',
      name: 'fmnist-600',
      images: { blob: await t.upload(idxImages(COUNT, 28, 28, Buffer.from(pixels))) },
      labels: { blob: await t.upload(idxLabels(labels)) },
    });
    expect(ds.status).toBe(201);
    const datasetId = ((await ds.json()) as { id: number }).id;
    const priorIds: number[] = [];
    for (const name of ['resnet-sup', 'convnet-random']) {
      priorIds.push(await t.registerZooPrior(name, { datasetId }));
    }
    const c = await t.postJson('/api/admin/campaigns', {
      name: 'train',
      datasetId,
      priorIds,
      shardSize: 500,
      sharedSetSize: 100,
      targetDim: 16,
      seed: 3,
      verification: { kind: 'none' },
    });
    expect(c.status).toBe(201);
    await workUntilIdle([await NodeVolunteer.register(t.app)]);
    campaignId = ((await c.json()) as { id: number }).id;
  });
  afterAll(() => t.close());

  it('a completed round queues a run; admins queue every other kind; a crashed run is requeued; jobs outlive a stopped queue; a worker runs them all, and the report and the student files follow', async () => {
    const [queued] = await t.deps.database.db.select().from(trainingRuns);
    expect(queued?.status).toBe('queued');

    // A run whose worker died mid-run: still 'running', its job taken, no progress written for long.
    const [crashed] = await t.deps.database.db
      .insert(trainingRuns)
      .values({
        roundId: queued?.roundId as number,
        status: 'running',
        config: { kind: 'random', jobId: '00000000-0000-4000-8000-000000000000' },
        metrics: { updatedAt: Date.now() - 60 * 60_000 },
      })
      .returning();

    // A queue that only enqueues (an API process with COOPT_WORKER=0), then stops.
    const sender = await startTrainingQueue(t.deps, { work: false, epochs: 1, pollSeconds: 0.5 });
    await sender.stop();
    const [sent, requeued] = await t.deps.database.db.select().from(trainingRuns).orderBy(asc(trainingRuns.id));
    expect(requeued?.id).toBe(crashed?.id);
    expect(requeued?.status).toBe('queued');
    const requeuedJob = (requeued?.config as { jobId?: string } | undefined)?.jobId;
    expect(requeuedJob).toMatch(/^[0-9a-f-]{36}$/);
    expect(requeuedJob).not.toBe('00000000-0000-4000-8000-000000000000');
    expect((sent?.config as { jobId?: string } | undefined)?.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent?.status).toBe('queued');

    // Admin-asked runs of every other kind, refused first without the token and for a missing round.
    const runsUrl = `/api/admin/campaigns/${campaignId}/rounds/1/training-runs`;
    expect((await t.app.request(runsUrl, { method: 'POST', body: '{}' })).status).toBe(401);
    const missing = await t.postJson(`/api/admin/campaigns/${campaignId}/rounds/9/training-runs`, {});
    expect(missing.status).toBe(404);
    const bad = await t.postJson(runsUrl, { kind: 'byol' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('json.kind');
    for (const kind of ['simclr', 'supervised', 'random', 'no-align', 'worst-prior', 'priors']) {
      // The random-init encoder is the ResNet student: no training, but the job builds, probes and exports it.
      const architecture = kind === 'random' ? 'resnet' : 'convnet';
      const res = await t.postJson(runsUrl, { kind, architecture, epochs: 2, probeImages: 400 });
      expect(res.status).toBe(201);
    }

    // A worker started later finds every job in the database and runs them one at a time.
    const worker = await startTrainingQueue(t.deps, { work: true, epochs: 2, pollSeconds: 0.5 });
    let runs = await t.deps.database.db.select().from(trainingRuns).orderBy(asc(trainingRuns.id));
    // What this poller saw while runs trained: training shares the process (and, here, the
    // database) with it, so it only sees mid-epoch progress if the trainer gives the event loop turns.
    const seenTraining = new Set<string>();
    try {
      for (let i = 0; i < 900 && runs.some((r) => r.status !== 'done' && r.status !== 'failed'); i++) {
        await new Promise((r) => setTimeout(r, 500));
        runs = await t.deps.database.db.select().from(trainingRuns).orderBy(asc(trainingRuns.id));
        for (const r of runs) {
          const m = r.metrics as { kind?: string; stage?: string; progress?: { batch: number } } | null;
          if (r.status === 'running' && m?.stage === 'training' && (m.progress?.batch ?? 0) > 0)
            seenTraining.add(m.kind as string);
        }
      }
    } finally {
      await worker.stop();
    }
    type Metrics = {
      kind: string;
      history: { epoch: number; loss: number; probeAccuracy: number; seconds: number }[];
      probe: { accuracies: number[]; mean: number; std: number };
      priors?: { name: string; uniformity: number; probe: { mean: number } }[];
      error?: string;
    };
    const byKind = new Map(runs.map((r) => [(r.metrics as Metrics).kind, r]));
    const metricsOf = (kind: string) => (byKind.get(kind) as (typeof runs)[number]).metrics as Metrics;
    for (const r of runs) {
      expect((r.metrics as Metrics).error).toBeUndefined();
      expect(r.status).toBe('done');
    }
    expect(seenTraining.size).toBeGreaterThan(0);
    expect([...byKind.keys()].sort()).toEqual(
      ['coopt', 'no-align', 'priors', 'random', 'simclr', 'supervised', 'worst-prior'].sort(),
    );
    for (const kind of ['coopt', 'simclr', 'supervised', 'no-align', 'worst-prior']) {
      const m = metricsOf(kind);
      expect(m.history.map((h) => h.epoch)).toEqual([1, 2]);
      expect(m.history.every((h) => Number.isFinite(h.loss) && h.probeAccuracy > 0 && h.seconds > 0)).toBe(true);
      expect(m.probe.accuracies).toHaveLength(3);
    }
    const acc = (kind: string) => metricsOf(kind).probe.mean;
    // Ten classes: chance is 0.1. Two epochs on 500 images is too little to order the methods
    // reliably (the reproduction command does that); every trained student is well above chance.
    for (const kind of ['coopt', 'simclr', 'supervised', 'no-align', 'worst-prior'])
      expect(acc(kind)).toBeGreaterThan(0.3);
    expect(metricsOf('random').history).toEqual([]);
    expect((metricsOf('random') as Metrics & { architecture: string }).architecture).toBe('resnet');
    const priors = metricsOf('priors').priors ?? [];
    expect(priors.map((p) => p.name).sort()).toEqual(['convnet-random', 'resnet-sup']);
    const prior = (name: string) => priors.find((p) => p.name === name) as (typeof priors)[number];
    // The supervised prior is both more uniform and more accurate than the random-weight one.
    expect(prior('resnet-sup').uniformity).toBeLessThan(prior('convnet-random').uniformity);
    expect(prior('resnet-sup').probe.mean).toBeGreaterThan(prior('convnet-random').probe.mean);

    // The report: every section filled, and its plots.
    const report = await (await t.app.request(`/api/campaigns/${campaignId}/rounds/1/report.md`)).text();
    if (process.env.COOPT_PRINT_REPORT) console.log(report);
    expect(report).toContain('| Acc. (%) |');
    expect(report).toContain(`${(acc('simclr') * 100).toFixed(1)} ±`);
    expect(report).toContain("Spearman's ρ between V and accuracy: -1.000 over 2 priors");
    expect(report).toContain('| CoOpt, no alignment |');
    for (const plot of ['accuracy-vs-time.svg', 'uniformity-vs-accuracy.svg', 'alignment-ablation.svg']) {
      const res = await t.app.request(`/api/campaigns/${campaignId}/rounds/1/report/${plot}`);
      expect(res.headers.get('content-type')).toBe('image/svg+xml');
      const svg = await res.text();
      expect(svg).toContain('<svg');
      expect(svg).not.toContain('No finished');
    }
    const curves = await (
      await t.app.request(`/api/campaigns/${campaignId}/rounds/1/report/accuracy-vs-time.svg`)
    ).text();
    expect(curves.split('<polyline').length - 1).toBe(5);

    // The CoOpt student downloads as TF.js files that load and encode images.
    const list = (await (await t.app.request(`/api/campaigns/${campaignId}/rounds`)).json()) as {
      rounds: { trainingRuns: { id: number; downloads: string[] }[] }[];
    };
    const coopt = list.rounds[0]?.trainingRuns.find((r) => r.id === byKind.get('coopt')?.id);
    expect(coopt?.downloads).toHaveLength(2);
    const modelJson = (await (await t.app.request(coopt?.downloads[0] as string)).json()) as {
      modelTopology: object;
      weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    };
    const weights = new Uint8Array(await (await t.app.request(coopt?.downloads[1] as string)).arrayBuffer());
    await initTfjs();
    await tf.setBackend('wasm');
    const model = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0]?.weights,
        weightData: weights.buffer as ArrayBuffer,
      }),
    );
    const features = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
    expect(features.shape).toEqual([2, 128]);
    expect(Array.from((await features.data()) as Float32Array).every(Number.isFinite)).toBe(true);
    tf.dispose(features);
    model.dispose();
    const gone = await t.app.request(`/api/campaigns/${campaignId}/training-runs/999999/model.json`);
    expect(gone.status).toBe(404);
  }, 600_000);

  it('refuses runs on a round that is not complete (409) and label-only kinds on a dataset without labels (422)', async () => {
    const { pixels } = demoSplit();
    const ds = await t.postJson('/api/admin/datasets', {
      format: 'idx',
      name: 'unlabelled-300',
      images: { blob: await t.upload(idxImages(300, 28, 28, Buffer.from(pixels.subarray(0, 300 * 784)))) },
    });
    const datasetId = ((await ds.json()) as { id: number }).id;
    const priors = (await (await t.app.request('/api/priors')).json()) as { priors: { id: number; name: string }[] };
    const prior = priors.priors.find((p) => p.name === 'resnet-sup')?.id as number;
    const c = await t.postJson('/api/admin/campaigns', {
      name: 'unlabelled',
      datasetId,
      priorIds: [prior],
      shardSize: 250,
      sharedSetSize: 50,
      targetDim: 8,
      seed: 5,
      verification: { kind: 'none' },
    });
    const id = ((await c.json()) as { id: number }).id;
    const url = `/api/admin/campaigns/${id}/rounds/1/training-runs`;
    const early = await t.postJson(url, { kind: 'coopt' });
    expect(early.status).toBe(409);
    expect(await early.text()).toContain('students train on complete rounds');
    await workUntilIdle([await NodeVolunteer.register(t.app)]);
    for (const kind of ['random', 'supervised', 'priors']) {
      const res = await t.postJson(url, { kind });
      expect(res.status).toBe(422);
      expect(await res.text()).toContain('needs labels');
    }
    // Training on the targets needs no labels: the student is still made, only unprobed.
    expect((await t.postJson(url, { kind: 'coopt', epochs: 1 })).status).toBe(201);
  }, 120_000);
});
