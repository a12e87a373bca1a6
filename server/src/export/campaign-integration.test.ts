import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { decodeTargets } from '@coopt/shared/math';
import { and, eq } from 'drizzle-orm';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownSources } from '../datasets/known-sources.ts';
import { alignments, rounds, trainingRuns } from '../db/schema.ts';
import { zooDir } from '../priors/prior-zoo.ts';
import { idxImages } from '../test/dataset-files.ts';
import { createTestApp } from '../test/test-app.ts';
import { databaseKinds } from '../test/test-database.ts';
import { NodeVolunteer, workUntilIdle } from '../volunteers/node-volunteer.ts';
import { readSafetensors } from './safetensors-reader.ts';

const COUNT = 2000;
const MEAN = 0.286;
const STD = 0.353;
const PRIORS = ['resnet-sup', 'resnet-weak'];

function firstTestImages(): Uint8Array {
  const source = knownSources.find((s) => s.id === 'fashion-mnist-test');
  if (!source) throw new Error('no demo data');
  return new Uint8Array(zlib.gunzipSync(fs.readFileSync(source.images)).subarray(16, 16 + COUNT * 784));
}

/** Reads the stored entries of a zip through its central directory. */
function readZip(buf: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const eocd = buf.length - 22;
  expect(view.getUint32(eocd, true)).toBe(0x06054b50);
  const entries = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < entries; i++) {
    const size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const local = view.getUint32(p + 42, true);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen));
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    out.set(name, buf.subarray(dataStart, dataStart + size));
    p += 46 + nameLen;
  }
  return out;
}

const npyData = (npy: Uint8Array) => npy.subarray(10 + new DataView(npy.buffer, npy.byteOffset).getUint16(8, true));

describe.each(databaseKinds())('a whole campaign through the HTTP API on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  const pixels = firstTestImages();
  let campaignId: number;

  beforeAll(async () => {
    t = await createTestApp(kind);
    const ds = await t.postJson('/api/admin/datasets', {
      format: 'idx',
      name: 'fmnist-2k',
      images: { blob: await t.upload(idxImages(COUNT, 28, 28, pixels)) },
    });
    expect(ds.status).toBe(201);
    const datasetId = ((await ds.json()) as { id: number }).id;
    const priorIds: number[] = [];
    for (const name of PRIORS) {
      const res = await t.postJson('/api/admin/priors', {
        name,
        onnx: { blob: await t.upload(fs.readFileSync(path.join(zooDir, 'models', `${name}.onnx`))) },
        featureTensor: 'features',
        normalization: { pixelScale: 1 / 255, mean: [MEAN], std: [STD] },
        datasetId,
      });
      expect(res.status).toBe(201);
      priorIds.push(((await res.json()) as { id: number }).id);
    }
    const c = await t.postJson('/api/admin/campaigns', {
      name: 'full',
      datasetId,
      priorIds,
      shardSize: 600,
      sharedSetSize: 200,
      targetDim: 16,
      seed: 5,
    });
    expect(c.status).toBe(201);
    campaignId = ((await c.json()) as { id: number }).id;
  });
  afterAll(() => t.close());

  it('runs to 100% coverage with replicated volunteers and exports what an independent recomputation gives', async () => {
    await workUntilIdle(await Promise.all([1, 2, 3].map(() => NodeVolunteer.register(t.app))));
    const [round] = await t.deps.database.db.select().from(rounds).where(eq(rounds.campaignId, campaignId));
    expect(round?.status).toBe('complete');
    const jobs = await t.deps.database.db.select().from(trainingRuns);
    expect(jobs.map((j) => [j.roundId, j.status])).toEqual([[round?.id, 'queued']]);

    const stats = (await (await t.app.request(`/api/campaigns/${campaignId}/stats`)).json()) as {
      coverage: { fraction: number; shards: number };
      scoring: { done: number; total: number };
      round: { inconsistencyBefore: number; inconsistencyAfter: number };
      volunteers: { active: number };
      throughput: { rowsTotal: number };
      priors: { uniformity: number }[];
    };
    expect(stats.coverage).toMatchObject({ fraction: 1, shards: 3 });
    expect(stats.scoring).toEqual({ done: 2, total: 2 });
    expect(stats.volunteers.active).toBe(3);
    // Two replicas of everything: 2 x (2 priors x 200 shared rows + 1800 shard rows).
    expect(stats.throughput.rowsTotal).toBe(2 * (2 * 200 + 1800));
    expect(stats.priors).toHaveLength(2);
    // Aligning the priors onto the reference targets makes their distributions agree (CoOpt Eq. 3).
    expect(stats.round.inconsistencyAfter).toBeLessThan(stats.round.inconsistencyBefore);

    const manifest = (await (await t.app.request(`/api/campaigns/${campaignId}/rounds/1/manifest.json`)).json()) as {
      rows: number;
      targetDim: number;
      priors: { id: number; reference: boolean; heldOutR2: number }[];
      shards: { agreeingReplicas: number }[];
    };
    expect(manifest).toMatchObject({ rows: COUNT - 200, targetDim: 16 });
    expect(manifest.priors).toHaveLength(2);
    expect(manifest.shards.every((s) => s.agreeingReplicas === 2)).toBe(true);

    const st = new Uint8Array(
      await (await t.app.request(`/api/campaigns/${campaignId}/rounds/1/targets.safetensors`)).arrayBuffer(),
    );
    const { at } = readSafetensors(st);
    const targets = new Float32Array(at('targets').bytes.buffer);
    const ids = Array.from(new BigInt64Array(at('sample_ids').bytes.buffer), Number);
    const priorOf = new Int32Array(at('prior_ids').bytes.buffer);
    expect(at('targets').shape).toEqual([COUNT - 200, 16]);

    // Every non-shared sample exactly once.
    const shared = new Set(decodeTargets(await t.deps.blobs.get(round?.referenceBlobKey as string)).ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (let id = 0; id < COUNT; id++) expect(shared.has(id) !== ids.includes(id)).toBe(true);

    // Independent recomputation: onnxruntime-node features, float64 preprocessing and alignment.
    for (const prior of manifest.priors) {
      const rows = [...priorOf.keys()].filter((i) => priorOf[i] === prior.id);
      const name = PRIORS[prior.id - 1] as string;
      const session = await ort.InferenceSession.create(path.join(zooDir, 'models', `${name}.onnx`));
      const input = new Float32Array(rows.length * 784);
      rows.forEach((r, k) => {
        for (let p = 0; p < 784; p++)
          input[k * 784 + p] = ((pixels[(ids[r] as number) * 784 + p] as number) / 255 - MEAN) / STD;
      });
      const features = (
        await session.run({ input: new ort.Tensor('float32', input, [rows.length, 1, 28, 28]) }, ['features'])
      ).features?.data as Float32Array;
      const l = features.length / rows.length;
      const [fit] = await t.deps.database.db
        .select()
        .from(alignments)
        .where(and(eq(alignments.roundId, round?.id as number), eq(alignments.modelId, prior.id)));
      const map = new Float32Array(Uint8Array.from(await t.deps.blobs.get(fit?.mapBlobKey as string)).buffer);
      let maxDiff = 0;
      let maxAbs = 0;
      rows.forEach((r, k) => {
        for (let j = 0; j < 16; j++) {
          let y = map[l * 16 + j] as number;
          for (let i = 0; i < l; i++) y += (features[k * l + i] as number) * (map[i * 16 + j] as number);
          maxDiff = Math.max(maxDiff, Math.abs(y - (targets[r * 16 + j] as number)));
          maxAbs = Math.max(maxAbs, Math.abs(y));
        }
      });
      expect(maxDiff / maxAbs, `prior ${name}`).toBeLessThan(1e-3);
      await session.release();
    }

    // The .npz holds the same arrays, and downloads serve byte ranges.
    const npzRes = await t.app.request(`/api/campaigns/${campaignId}/rounds/1/targets.npz`);
    expect(npzRes.headers.get('accept-ranges')).toBe('bytes');
    const npz = new Uint8Array(await npzRes.arrayBuffer());
    const files = readZip(npz);
    expect([...files.keys()]).toEqual(['targets.npy', 'sample_ids.npy', 'prior_ids.npy']);
    expect(Buffer.compare(npyData(files.get('targets.npy') as Uint8Array), Buffer.from(targets.buffer))).toBe(0);
    const part = await t.app.request(`/api/campaigns/${campaignId}/rounds/1/targets.npz`, {
      headers: { range: 'bytes=100-1099' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${npz.length}`);
    expect(Buffer.compare(new Uint8Array(await part.arrayBuffer()), npz.subarray(100, 1100))).toBe(0);
    const tail = await t.app.request(`/api/campaigns/${campaignId}/rounds/1/targets.npz`, {
      headers: { range: 'bytes=-22' },
    });
    expect(Buffer.compare(new Uint8Array(await tail.arrayBuffer()), npz.subarray(npz.length - 22))).toBe(0);
    expect(
      (
        await t.app.request(`/api/campaigns/${campaignId}/rounds/1/targets.npz`, {
          headers: { range: `bytes=${npz.length}-` },
        })
      ).status,
    ).toBe(416);
    expect((await t.app.request(`/api/campaigns/${campaignId}/rounds/2/targets.npz`)).status).toBe(404);
  });

  it('opens round 2 with an added prior, runs it, and keeps round 1 downloadable as it was', async () => {
    const before = await (
      await t.app.request(`/api/campaigns/${campaignId}/rounds/1/targets.safetensors`)
    ).arrayBuffer();
    const res = await t.postJson('/api/admin/priors', {
      name: 'convnet-random',
      onnx: { blob: await t.upload(fs.readFileSync(path.join(zooDir, 'models', 'convnet-random.onnx'))) },
      featureTensor: 'features',
      normalization: { pixelScale: 1 / 255, mean: [MEAN], std: [STD] },
    });
    const randomId = ((await res.json()) as { id: number }).id;
    expect((await t.postJson(`/api/admin/campaigns/${campaignId}/rounds`, { addPriorIds: [999] })).status).toBe(404);
    const opened = await t.postJson(`/api/admin/campaigns/${campaignId}/rounds`, { addPriorIds: [randomId] });
    expect(opened.status).toBe(201);
    expect(await opened.json()).toEqual({ round: 2, priors: 3 });
    const early = await t.postJson(`/api/admin/campaigns/${campaignId}/rounds`, {});
    expect(early.status).toBe(409);

    const work = await workUntilIdle(await Promise.all([1, 2].map(() => NodeVolunteer.register(t.app))));
    expect(work.every((a) => a.round === 2)).toBe(true);
    const manifest = (await (await t.app.request(`/api/campaigns/${campaignId}/rounds/2/manifest.json`)).json()) as {
      round: number;
      rows: number;
      bestPriorId: number;
      priors: { id: number; uniformity: number }[];
      shards: { madeInRound: number }[];
    };
    expect(manifest).toMatchObject({ round: 2, rows: COUNT - 200 });
    expect(manifest.priors).toHaveLength(3);
    // Only the new prior was scored and aligned. The best prior, and so the reference and every
    // target, stayed the same: no shard was re-targeted and the merged targets are round 1's.
    expect(work.map((a) => a.phase).sort()).toEqual(['align', 'score', 'score']);
    const round1 = (await (await t.app.request(`/api/campaigns/${campaignId}/rounds/1/manifest.json`)).json()) as {
      bestPriorId: number;
    };
    expect(manifest.bestPriorId).toBe(round1.bestPriorId);
    expect(manifest.shards.every((s) => s.madeInRound === 1)).toBe(true);
    const targetsOf = async (round: number) =>
      readSafetensors(
        new Uint8Array(
          await (await t.app.request(`/api/campaigns/${campaignId}/rounds/${round}/targets.safetensors`)).arrayBuffer(),
        ),
      ).at('targets').bytes;
    expect(Buffer.compare(Buffer.from(await targetsOf(2)), Buffer.from(await targetsOf(1)))).toBe(0);
    const after = await (
      await t.app.request(`/api/campaigns/${campaignId}/rounds/1/targets.safetensors`)
    ).arrayBuffer();
    expect(Buffer.compare(Buffer.from(before), Buffer.from(after))).toBe(0);
    const list = (await (await t.app.request(`/api/campaigns/${campaignId}/rounds`)).json()) as {
      rounds: { number: number; status: string }[];
    };
    expect(list.rounds.map((r) => [r.number, r.status])).toEqual([
      [1, 'complete'],
      [2, 'complete'],
    ]);
    expect((await t.postJson(`/api/admin/campaigns/${campaignId}/rounds`, { addPriorIds: [randomId] })).status).toBe(
      422,
    );
  });

  it('opens round 3 with a prior more uniform than the rest: it becomes the reference and every shard is re-targeted', async () => {
    const res = await t.postJson('/api/admin/priors', {
      name: 'mobilenet-sup',
      onnx: { blob: await t.upload(fs.readFileSync(path.join(zooDir, 'models', 'mobilenet-sup.onnx'))) },
      featureTensor: 'features',
      normalization: { pixelScale: 1 / 255, mean: [MEAN], std: [STD] },
    });
    const mobileId = ((await res.json()) as { id: number }).id;
    expect((await t.postJson(`/api/admin/campaigns/${campaignId}/rounds`, { addPriorIds: [mobileId] })).status).toBe(
      201,
    );
    const work = await workUntilIdle(await Promise.all([1, 2].map(() => NodeVolunteer.register(t.app))));
    const manifest = (await (await t.app.request(`/api/campaigns/${campaignId}/rounds/3/manifest.json`)).json()) as {
      bestPriorId: number;
      priors: { id: number; uniformity: number }[];
      shards: { madeInRound: number }[];
    };
    expect(manifest.bestPriorId).toBe(mobileId);
    // A new reference: the three earlier priors are re-aligned to it and all 3 shards re-targeted, twice each.
    expect(work.filter((a) => a.phase === 'align')).toHaveLength(3);
    expect(work.filter((a) => a.phase === 'target')).toHaveLength(6);
    expect(manifest.shards.every((s) => s.madeInRound === 3)).toBe(true);
  });
});
