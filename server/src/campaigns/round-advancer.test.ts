import { decodeTargets } from '@coopt/shared/math';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Matrix, uniformity64 } from '../../../shared/src/math/float64-reference.ts';
import { alignments, priorScores, rounds, workItems } from '../db/schema.ts';
import { createTestApp } from '../test/test-app.ts';
import { databaseKinds } from '../test/test-database.ts';
import { NodeVolunteer } from '../volunteers/node-volunteer.ts';

const rowsOf = (values: Float32Array, dim: number): Matrix =>
  Array.from({ length: values.length / dim }, (_, i) => Array.from(values.subarray(i * dim, (i + 1) * dim)));

describe.each(databaseKinds())('a round through its score phase on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  const priorIds: number[] = [];
  const uploaded = new Map<number, { values: Float32Array; dim: number }>();

  beforeAll(async () => {
    t = await createTestApp(kind);
    const datasetId = await t.importDemoDataset();
    for (const name of ['resnet-weak', 'mobilenet-sup']) {
      priorIds.push(await t.registerZooPrior(name));
    }
    const c = await t.postJson('/api/admin/campaigns', {
      name: 'round',
      datasetId,
      priorIds,
      shardSize: 2500,
      sharedSetSize: 200,
      targetDim: 16,
      seed: 11,
    });
    expect(c.status).toBe(201);
  });
  afterAll(() => t.close());

  it('scores both priors by replicated uploads, picks the more uniform one, has a volunteer align the other (checked by the server) and opens target work', async () => {
    const volunteers = await Promise.all([1, 2, 3].map(() => NodeVolunteer.register(t.app)));
    // Two replicas of each of the two score items, from different volunteers.
    let scoreUploads = 0;
    for (let turn = 0; scoreUploads < 4 && turn < 12; turn++) {
      const v = volunteers[turn % volunteers.length] as NodeVolunteer;
      const a = await v.claim();
      if (!a) continue;
      expect(a.phase).toBe('score');
      const rows = await v.compute(a);
      uploaded.set(a.prior.id, { values: rows.values, dim: a.rowDim });
      expect((await v.upload(a, rows)).status).toBe(201);
      scoreUploads++;
    }
    expect(scoreUploads).toBe(4);
    const [scored] = await t.deps.database.db.select().from(rounds);
    expect(scored?.status).toBe('aligning');

    // The other prior's map is fitted by a volunteer; a wrong map is refused before a right one is taken.
    const cheat = volunteers[0] as NodeVolunteer;
    const a = await cheat.claim();
    expect(a?.phase).toBe('align');
    expect(a?.align).toMatchObject({ heldOutFraction: 0.2 });
    const honest = await cheat.compute(a as NonNullable<typeof a>);
    const wrong = { ids: honest.ids, values: honest.values.map((v, i) => (i % 7 === 0 ? v * 1.5 : v)) };
    expect((await cheat.upload(a as NonNullable<typeof a>, wrong)).status).toBe(201);
    const [afterCheat] = await t.deps.database.db.select().from(rounds);
    expect(afterCheat?.status).toBe('aligning');
    const fixer = volunteers[1] as NodeVolunteer;
    const again = await fixer.claim();
    expect(again?.phase).toBe('align');
    expect((await fixer.upload(again as NonNullable<typeof again>, honest)).status).toBe(201);
    const [r] = await t.deps.database.db.select().from(rounds);
    expect(r?.status).toBe('targeting');

    const scores = await t.deps.database.db.select().from(priorScores).orderBy(asc(priorScores.modelId));
    expect(scores).toHaveLength(2);
    for (const s of scores) {
      const f = uploaded.get(s.modelId) as { values: Float32Array; dim: number };
      expect(s.uniformity).toBeCloseTo(uniformity64(rowsOf(f.values, f.dim)), 3);
    }
    const best = [...scores].sort((a, b) => a.uniformity - b.uniformity)[0];
    expect(r?.bestModelId).toBe(best?.modelId);

    const reference = decodeTargets(await t.deps.blobs.get(r?.referenceBlobKey as string));
    expect(reference.dim).toBe(16);
    expect(reference.ids.length).toBe(200);

    const maps = await t.deps.database.db
      .select()
      .from(alignments)
      .where(eq(alignments.roundId, r?.id as number));
    const other = maps.find((m) => !m.isReference);
    expect(maps.find((m) => m.isReference)?.modelId).toBe(best?.modelId);
    expect(other?.heldOutR2).toBeGreaterThan(0.3);
    expect(other?.residual).toBeLessThan(1e-3);

    const targets = await t.deps.database.db.select().from(workItems).where(eq(workItems.phase, 'target'));
    expect(targets).toHaveLength(Math.ceil(9800 / 2500));
    expect(new Set(targets.map((x) => x.modelId))).toEqual(new Set(priorIds));
  });

  it('hands out target work with its alignment, and the aligned rows are accepted', async () => {
    const v = await NodeVolunteer.register(t.app);
    const a = await v.claim();
    expect(a?.phase).toBe('target');
    expect(a?.rowDim).toBe(16);
    expect(a?.alignmentUrl).toBeTruthy();
    const rows = await v.compute(a as NonNullable<typeof a>);
    expect(rows.values.length).toBe((a?.sampleCount ?? 0) * 16);
    expect((await v.upload(a as NonNullable<typeof a>, rows)).status).toBe(201);
  });
});
