import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkAssignment } from '@coopt/shared';
import { encodeTargets } from '@coopt/shared/math';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leases, volunteers } from '../../db/schema.ts';
import { zooDir } from '../../priors/prior-zoo.ts';
import { createTestApp } from '../../test/test-app.ts';
import { databaseKinds } from '../../test/test-database.ts';

type ErrorJson = { error: { code: string; message: string } };

describe.each(databaseKinds())('volunteer work API on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  const tokens: Record<string, string> = {};
  const as = (who: string) => ({ authorization: `Bearer ${tokens[who]}` });
  const claim = (who: string, only: { priorIds?: number[]; campaignId?: number } = {}) =>
    t.app.request('/api/work/claim', {
      method: 'POST',
      headers: { ...as(who), 'content-type': 'application/json' },
      body: JSON.stringify({ backends: ['wasm'], ...only }),
    });
  let priorId: number;
  let campaignId: number;
  const upload = (who: string, leaseId: number, body: Uint8Array) =>
    t.app.request(`/api/work/leases/${leaseId}/result`, {
      method: 'PUT',
      headers: { ...as(who), 'content-type': 'application/octet-stream' },
      body,
    });
  const rows = (ids: Uint32Array, dim: number, fill = (i: number) => Math.sin(i)) =>
    encodeTargets({ ids, dim, values: Float32Array.from({ length: ids.length * dim }, (_, i) => fill(i)) });

  let a: WorkAssignment;
  let b: WorkAssignment;
  let ids: Uint32Array;

  beforeAll(async () => {
    t = await createTestApp(kind);
    const datasetId = await t.importDemoDataset();
    const onnx = fs.readFileSync(path.join(zooDir, 'op-tests', 'tokens-layernorm-head.onnx'));
    const prior = await t.postJson('/api/admin/priors', { name: 'tokens', onnx: { blob: await t.upload(onnx) } });
    priorId = ((await prior.json()) as { id: number }).id;
    const campaign = await t.postJson('/api/admin/campaigns', {
      name: 'c',
      datasetId,
      priorIds: [priorId],
      shardSize: 2000,
      sharedSetSize: 50,
      targetDim: 8,
      seed: 1,
    });
    expect(campaign.status).toBe(201);
    campaignId = ((await campaign.json()) as { id: number }).id;
    for (const who of ['a', 'b', 'c']) {
      const res = await t.app.request('/api/volunteers', { method: 'POST' });
      expect(res.status).toBe(201);
      tokens[who] = ((await res.json()) as { token: string }).token;
    }
  });
  afterAll(() => t.close());

  it('refuses work without a volunteer token (401)', async () => {
    expect((await t.app.request('/api/work/claim', { method: 'POST', body: '{}' })).status).toBe(401);
    const wrong = await t.app.request('/api/work/claim', {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
      body: '{}',
    });
    expect(wrong.status).toBe(401);
  });

  it('hands each score item to as many different volunteers as the policy asks, and no more', async () => {
    const ra = await claim('a');
    expect(ra.status).toBe(200);
    a = (await ra.json()) as WorkAssignment;
    expect(a).toMatchObject({ phase: 'score', round: 1, sampleCount: 50, rowDim: 5 });
    expect((await claim('a')).status).toBe(204);
    // A volunteer that backs another prior or another campaign is not given this work.
    expect((await claim('b', { priorIds: [priorId + 1000] })).status).toBe(204);
    expect((await claim('b', { campaignId: campaignId + 1000 })).status).toBe(204);
    const rb = await claim('b', { priorIds: [priorId], campaignId });
    expect(rb.status).toBe(200);
    b = (await rb.json()) as WorkAssignment;
    expect(b.leaseId).not.toBe(a.leaseId);
    expect((await claim('c')).status).toBe(204);
  });

  it("refuses another volunteer's lease (403) and unknown leases (404)", async () => {
    const hb = await t.app.request(`/api/work/leases/${a.leaseId}/heartbeat`, { method: 'POST', headers: as('c') });
    expect(hb.status).toBe(403);
    expect((await t.app.request(a.sampleIdsUrl, { headers: as('c') })).status).toBe(403);
    expect((await upload('c', a.leaseId, new Uint8Array(10))).status).toBe(403);
    expect((await t.app.request('/api/work/leases/9999/heartbeat', { method: 'POST', headers: as('a') })).status).toBe(
      404,
    );
    const own = await t.app.request(`/api/work/leases/${a.leaseId}/heartbeat`, { method: 'POST', headers: as('a') });
    expect(own.status).toBe(200);
    expect(new Date(((await own.json()) as { expiresAt: string }).expiresAt).getTime()).toBeGreaterThan(Date.now());
  });

  it('checks every upload and names what is wrong', async () => {
    ids = Uint32Array.from(
      new Int32Array(await (await t.app.request(a.sampleIdsUrl, { headers: as('a') })).arrayBuffer()),
    );
    expect(ids.length).toBe(50);
    const cases: [Uint8Array, number, string][] = [
      [rows(ids, 4), 422, 'rows have 4 values; this work item needs 5'],
      [rows(Uint32Array.from([...ids].reverse()), 5), 422, 'row 0 is sample'],
      [rows(ids, 5, (i) => (i === 7 ? Number.NaN : 1)), 422, `row 1 (sample ${ids[1]}) holds NaN`],
      [
        rows(ids, 5, (i) => (i >= 243 ? Number.NEGATIVE_INFINITY : 1)),
        422,
        `row 48 (sample ${ids[48]}) holds -Infinity`,
      ],
      // float16 is kept whole and decoded at the end, with the same checks.
      [
        encodeTargets(
          { ids, dim: 5, values: Float32Array.from({ length: 250 }, (_, i) => (i === 12 ? 1e6 : 1)) },
          'float16',
        ),
        422,
        `row 2 (sample ${ids[2]}) holds Infinity`,
      ],
      [new TextEncoder().encode('not targets at all, just some text'), 422, 'bad magic'],
      [new Uint8Array(10_000), 413, 'larger than the limit'],
    ];
    const corrupt = rows(ids, 5);
    corrupt[40] = (corrupt[40] as number) ^ 1;
    cases.push([corrupt, 422, 'checksum mismatch']);
    for (const [body, status, words] of cases) {
      const res = await upload('a', a.leaseId, body);
      expect(res.status, words).toBe(status);
      expect(((await res.json()) as ErrorJson).error.message).toContain(words);
      // A refused upload leaves no blob behind, not even a half-written one.
      expect(await t.deps.blobs.stat(createHash('sha256').update(body).digest('hex')), words).toBeNull();
    }
    expect(fs.readdirSync(path.join(t.blobDir, 'tmp'))).toEqual([]);
  });

  it('stops reading an upload of undeclared length once it outgrows the lease', async () => {
    // 100 kB in 1 kB chunks, a chunk every 2 ms and no content-length; the lease holds 1,220 bytes.
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 2));
        pulled++;
        if (pulled > 100) controller.close();
        else controller.enqueue(new Uint8Array(1000));
      },
    });
    const res = await t.app.request(`/api/work/leases/${a.leaseId}/result`, {
      method: 'PUT',
      headers: { ...as('a'), 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorJson).error.message).toContain('limit of 1220 bytes');
    expect(pulled).toBeLessThan(50);
    expect(fs.readdirSync(path.join(t.blobDir, 'tmp'))).toEqual([]);
  });

  it('stores a good upload once, credits the volunteer, and refuses a different second one', async () => {
    const good = rows(ids, 5);
    const first = await upload('a', a.leaseId, good);
    expect(first.status).toBe(201);
    const again = await upload('a', a.leaseId, good);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { duplicate: boolean }).duplicate).toBe(true);
    expect(
      (
        await upload(
          'a',
          a.leaseId,
          rows(ids, 5, () => 2),
        )
      ).status,
    ).toBe(409);
    const credits = (await t.deps.database.db.select({ credit: volunteers.credit }).from(volunteers))
      .map((v) => v.credit)
      .sort((x, y) => x - y);
    expect(credits).toEqual([0, 0, 50]);
    // The volunteer's own tab reads its credit from /me; without a token there is nothing to read.
    const me = await t.app.request('/api/volunteers/me', { headers: as('a') });
    expect(await me.json()).toMatchObject({ credit: 50, reputation: 1, results: 1 });
    expect((await t.app.request('/api/volunteers/me')).status).toBe(401);
  });

  it('returns an expired lease to the pool: the late upload is refused and another volunteer gets the work', async () => {
    await t.deps.database.db
      .update(leases)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(leases.id, b.leaseId));
    const late = await upload('b', b.leaseId, rows(ids, 5));
    expect(late.status).toBe(409);
    expect(((await late.json()) as ErrorJson).error.code).toBe('lease_expired');
    // A device that cannot hold this prior's model is offered nothing; without that limit it gets the work.
    const small = await t.app.request('/api/work/claim', {
      method: 'POST',
      headers: { ...as('c'), 'content-type': 'application/json' },
      body: JSON.stringify({ backends: ['wasm'], maxModelBytes: 1000 }),
    });
    expect(small.status).toBe(204);
    const rc = await claim('c');
    expect(rc.status).toBe(200);
    expect(((await rc.json()) as WorkAssignment).phase).toBe('score');
  });
});
