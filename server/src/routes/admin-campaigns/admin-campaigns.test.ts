import fs from 'node:fs';
import path from 'node:path';
import type { CampaignSummary } from '@coopt/shared';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED_SET_INDEX } from '../../campaigns/create-campaign.ts';
import { shards } from '../../db/schema.ts';
import { zooDir } from '../../priors/prior-zoo.ts';
import { createTestApp } from '../../test/test-app.ts';
import { databaseKinds } from '../../test/test-database.ts';

type ErrorJson = { error: { code: string; message: string } };

describe.each(databaseKinds())('campaign creation API on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let datasetId: number;
  let priorId: number;
  const create = (body: object) =>
    t.postJson('/api/admin/campaigns', {
      name: 'demo',
      datasetId,
      priorIds: [priorId],
      shardSize: 500,
      sharedSetSize: 300,
      targetDim: 32,
      seed: 42,
      ...body,
    });

  beforeAll(async () => {
    t = await createTestApp(kind);
    datasetId = await t.importDemoDataset();
    const onnx = fs.readFileSync(path.join(zooDir, 'op-tests', 'standalone-batchnorm.onnx'));
    const res = await t.postJson('/api/admin/priors', { name: 'bn', onnx: { blob: await t.upload(onnx) } });
    expect(res.status).toBe(201);
    priorId = ((await res.json()) as { id: number }).id;
  });
  afterAll(() => t.close());

  it('splits the dataset by the seed into a shared set and shards that cover every image once', async () => {
    const res = await create({});
    expect(res.status).toBe(201);
    const campaign = (await res.json()) as CampaignSummary;
    expect(campaign).toMatchObject({
      name: 'demo',
      shards: Math.ceil(9700 / 500),
      priorIds: [priorId],
      verification: { kind: 'replication', replicas: 2 },
    });

    const rows = await t.deps.database.db.select().from(shards).where(eq(shards.campaignId, campaign.id));
    const seen = new Uint8Array(10_000);
    for (const row of rows) {
      const ids = new Int32Array(Uint8Array.from(await t.deps.blobs.get(row.sampleIdsBlobKey)).buffer);
      expect(ids.length).toBe(row.sampleCount);
      for (const id of ids) seen[id] = (seen[id] as number) + 1;
    }
    expect(seen.every((s) => s === 1)).toBe(true);
    expect(rows.find((r) => r.index === SHARED_SET_INDEX)?.sampleCount).toBe(300);

    const list = (await (await t.app.request('/api/campaigns')).json()) as { campaigns: CampaignSummary[] };
    expect(list.campaigns.map((c) => [c.name, c.shards])).toEqual([['demo', 20]]);
    expect(((await (await t.app.request(`/api/campaigns/${campaign.id}`)).json()) as CampaignSummary).seed).toBe(42);
  });

  it('refuses what cannot be a campaign with a clear 4xx', async () => {
    const cases: [object, number, string][] = [
      [{}, 409, 'already exists'],
      [{ name: 'x1', datasetId: 999 }, 404, 'no dataset with id 999'],
      [{ name: 'x2', priorIds: [priorId, 777] }, 404, 'no ready prior with id 777'],
      [{ name: 'x3', sharedSetSize: 30_000 }, 400, 'json.sharedSetSize'],
      [{ name: 'x4', sharedSetSize: 10_000, shardSize: 100 }, 400, 'leaves nothing'],
      [{ name: 'x5', shardSize: 3 }, 400, 'json.shardSize'],
      [{ name: 'x6', verification: { kind: 'quorum' } }, 400, 'json.verification'],
      [{ name: '../evil' }, 400, 'json.name'],
    ];
    for (const [body, status, words] of cases) {
      const res = await create(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(((await res.json()) as ErrorJson).error.message).toContain(words);
    }
    expect((await t.app.request('/api/admin/campaigns', { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await t.app.request('/api/campaigns/123')).status).toBe(404);
  });
});
