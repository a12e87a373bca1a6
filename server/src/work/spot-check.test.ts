import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { results, volunteers, workItems } from '../db/schema.ts';
import { createTestApp } from '../test/test-app.ts';
import { databaseKinds } from '../test/test-database.ts';
import { NodeVolunteer } from '../volunteers/node-volunteer.ts';

describe.each(databaseKinds())('spot-check verification on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let campaignId: number;

  beforeAll(async () => {
    t = await createTestApp(kind);
    const datasetId = await t.importDemoDataset();
    const priorId = await t.registerZooPrior('resnet-sup');
    const c = await t.postJson('/api/admin/campaigns', {
      name: 'checked',
      datasetId,
      priorIds: [priorId],
      shardSize: 4950,
      sharedSetSize: 100,
      targetDim: 8,
      seed: 2,
      verification: { kind: 'spot-check', rate: 0.02, tolerance: 1e-3 },
    });
    campaignId = ((await c.json()) as { id: number }).id;
  });
  afterAll(() => t.close());

  it('accepts honest uploads after recomputing a sample, and catches a wrong one', async () => {
    const [honest, cheater, another] = await Promise.all([1, 2, 3].map(() => NodeVolunteer.register(t.app)));
    if (!honest || !cheater || !another) throw new Error('volunteers missing');
    const score = await honest.claim();
    expect(score?.phase).toBe('score');
    expect(
      (
        await honest.upload(
          score as NonNullable<typeof score>,
          await honest.compute(score as NonNullable<typeof score>),
        )
      ).status,
    ).toBe(201);

    // One shard per 4,950 images: the cheater takes the first and uploads plausible-looking noise.
    const work = await cheater.claim();
    expect(work?.phase).toBe('target');
    const real = await cheater.compute(work as NonNullable<typeof work>);
    const fake = { ids: real.ids, values: real.values.map((v, i) => v + Math.sin(i)) };
    expect((await cheater.upload(work as NonNullable<typeof work>, fake)).status).toBe(201);
    const [item] = await t.deps.database.db
      .select()
      .from(workItems)
      .where(
        eq(
          workItems.id,
          (await t.deps.database.db.select().from(results).orderBy(results.id)).at(-1)?.workItemId as number,
        ),
      );
    expect(item).toMatchObject({ status: 'open', replicasWanted: 2 });
    const reps = (await t.deps.database.db.select({ r: volunteers.reputation }).from(volunteers))
      .map((v) => v.r)
      .sort();
    expect(reps).toEqual([0.5, 1, 1]);

    // Someone else redoes the shard honestly; both shards end verified.
    for (const v of [another, honest]) {
      for (let a = await v.claim(); a; a = await v.claim())
        expect((await v.upload(a, await v.compute(a))).status).toBe(201);
    }
    const stats = (await (await t.app.request(`/api/campaigns/${campaignId}/stats`)).json()) as {
      coverage: { fraction: number };
      verification: { recomputedRows: number; milliseconds: number; share: number };
    };
    expect(stats.coverage.fraction).toBe(1);
    expect(stats.verification.recomputedRows).toBeGreaterThan(0);
    expect(stats.verification.milliseconds).toBeGreaterThan(0);
    expect(stats.verification.share).toBeLessThan(0.2);
    const verdicts = (await t.deps.database.db.select({ v: results.verified }).from(results)).map((r) => r.v);
    expect(verdicts.filter((v) => v === false)).toHaveLength(1);
  });
});
