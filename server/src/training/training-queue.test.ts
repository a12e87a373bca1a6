import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownSources } from '../datasets/known-sources.ts';
import { trainingRuns } from '../db/schema.ts';
import { zooDir } from '../priors/prior-zoo.ts';
import { idxImages, idxLabels } from '../test/dataset-files.ts';
import { SimulatedVolunteer, workUntilIdle } from '../test/simulated-volunteer.ts';
import { createTestApp } from '../test/test-app.ts';
import { databaseKinds } from '../test/test-database.ts';
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
    const prior = await t.postJson('/api/admin/priors', {
      name: 'resnet-sup',
      onnx: { blob: await t.upload(fs.readFileSync(path.join(zooDir, 'models', 'resnet-sup.onnx'))) },
      featureTensor: 'features',
      normalization: { pixelScale: 1 / 255, mean: [0.286], std: [0.353] },
      datasetId,
    });
    const priorId = ((await prior.json()) as { id: number }).id;
    const c = await t.postJson('/api/admin/campaigns', {
      name: 'train',
      datasetId,
      priorIds: [priorId],
      shardSize: 500,
      sharedSetSize: 100,
      targetDim: 16,
      seed: 3,
      verification: { kind: 'none' },
    });
    expect(c.status).toBe(201);
    await workUntilIdle([await SimulatedVolunteer.register(t.app)]);
  });
  afterAll(() => t.close());

  it('a completed round queues a run; the job outlives a queue that stops, and a worker trains and probes the student', async () => {
    const [queued] = await t.deps.database.db.select().from(trainingRuns);
    expect(queued?.status).toBe('queued');

    // A queue that only enqueues (an API process with COOPT_WORKER=0), then stops.
    const sender = await startTrainingQueue(t.deps, { work: false, epochs: 1, pollSeconds: 0.5 });
    await sender.stop();
    const [sent] = await t.deps.database.db.select().from(trainingRuns);
    expect((sent?.config as { jobId?: string } | undefined)?.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent?.status).toBe('queued');

    // A worker started later finds the job in the database and runs it.
    const worker = await startTrainingQueue(t.deps, { work: true, epochs: 2, probeImages: 400, pollSeconds: 0.5 });
    try {
      let run = sent;
      for (let i = 0; i < 240 && run?.status !== 'done' && run?.status !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 500));
        [run] = await t.deps.database.db
          .select()
          .from(trainingRuns)
          .where(eq(trainingRuns.id, sent?.id as number));
      }
      const metrics = run?.metrics as {
        history: { epoch: number; loss: number }[];
        probe: { accuracies: number[]; mean: number; std: number };
        error?: string;
      };
      expect(metrics.error).toBeUndefined();
      expect(run?.status).toBe('done');
      expect(metrics.history.map((h) => h.epoch)).toEqual([1, 2]);
      expect(metrics.history.every((h) => Number.isFinite(h.loss))).toBe(true);
      expect(metrics.probe.accuracies).toHaveLength(3);
      // Ten classes: chance is 0.1.
      expect(metrics.probe.mean).toBeGreaterThan(0.3);
    } finally {
      await worker.stop();
    }
  }, 180_000);
});
