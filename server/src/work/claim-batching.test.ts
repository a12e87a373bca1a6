import fs from 'node:fs';
import path from 'node:path';
import type { WorkAssignment } from '@coopt/shared';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leases } from '../db/schema.ts';
import { zooDir } from '../priors/prior-zoo.ts';
import { createTestApp } from '../test/test-app.ts';
import { databaseKinds } from '../test/test-database.ts';

/**
 * Claims that arrive together in one API process are served by shared statements; a burst of
 * them, several per volunteer, must still respect every item's replica count and never give one
 * volunteer two replicas of one item.
 */
describe.each(databaseKinds())('a burst of claims in one process on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  const priorIds: number[] = [];
  const replicas = 3;

  beforeAll(async () => {
    t = await createTestApp(kind);
    const datasetId = await t.importDemoDataset();
    for (const name of ['channel-shuffle', 'squeeze-fire-concat', 'standalone-batchnorm']) {
      const onnx = fs.readFileSync(path.join(zooDir, 'op-tests', `${name}.onnx`));
      const prior = await t.postJson('/api/admin/priors', { name, onnx: { blob: await t.upload(onnx) } });
      priorIds.push(((await prior.json()) as { id: number }).id);
    }
    const campaign = await t.postJson('/api/admin/campaigns', {
      name: 'burst',
      datasetId,
      priorIds,
      shardSize: 2000,
      sharedSetSize: 40,
      targetDim: 8,
      seed: 2,
      verification: { kind: 'replication', replicas, tolerance: 1e-3 },
    });
    expect(campaign.status).toBe(201);
  });
  afterAll(() => t.close());

  it('hands out every replica once, each to a different volunteer', async () => {
    const volunteers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await t.app.request('/api/volunteers', { method: 'POST' });
        return (await res.json()) as { token: string; volunteerId: string };
      }),
    );
    const grants: { volunteer: string; prior: number; leaseId: number }[] = [];
    let empty = 0;
    // Every volunteer sends three claims at once, in rounds, until two rounds in a row hand out nothing.
    for (let round = 0; empty < 2 && round < 20; round++) {
      const answers = await Promise.all(
        volunteers.flatMap((v) =>
          [0, 1, 2].map(async () => {
            const res = await t.app.request('/api/work/claim', {
              method: 'POST',
              headers: { authorization: `Bearer ${v.token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ backends: ['wasm'] }),
            });
            expect([200, 204]).toContain(res.status);
            if (res.status === 204) return null;
            const a = (await res.json()) as WorkAssignment;
            return { volunteer: v.volunteerId, prior: a.prior.id, leaseId: a.leaseId };
          }),
        ),
      );
      const got = answers.filter((a) => a !== null);
      grants.push(...got);
      empty = got.length === 0 ? empty + 1 : 0;
    }
    expect(grants).toHaveLength(priorIds.length * replicas);
    for (const prior of priorIds) {
      const forPrior = grants.filter((g) => g.prior === prior);
      expect(forPrior).toHaveLength(replicas);
      expect(new Set(forPrior.map((g) => g.volunteer)).size).toBe(replicas);
    }
    expect(new Set(grants.map((g) => g.leaseId)).size).toBe(grants.length);
    // Claims that race across statements are held by the database itself: a second live lease of one
    // volunteer on one item is refused (the claim statement then skips that pair).
    const [live] = await t.deps.database.db.select().from(leases).where(eq(leases.active, true)).limit(1);
    if (!live) throw new Error('no live lease');
    await expect(
      t.deps.database.db.insert(leases).values({
        workItemId: live.workItemId,
        volunteerId: live.volunteerId,
        expiresAt: new Date(Date.now() + 60_000),
      }),
    ).rejects.toThrow();
  });
});
