import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkAssignment } from '@coopt/shared';
import { decodeTargets } from '@coopt/shared/math';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { results, workItems } from '../db/schema.ts';
import { createTestApp } from '../test/test-app.ts';
import { databaseKinds } from '../test/test-database.ts';
import { NodeVolunteer } from '../volunteers/node-volunteer.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.each(databaseKinds())('stored results on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;

  /** The blob store's files, not counting what is staged in tmp. */
  const storedFiles = () =>
    fs
      .readdirSync(t.blobDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !path.relative(t.blobDir, e.parentPath).startsWith('tmp')).length;

  beforeAll(async () => {
    t = await createTestApp(kind);
    const datasetId = await t.importDemoDataset();
    const priorId = await t.registerZooPrior('resnet-sup');
    const c = await t.postJson('/api/admin/campaigns', {
      name: 'stored',
      datasetId,
      priorIds: [priorId],
      shardSize: 2000,
      sharedSetSize: 50,
      targetDim: 8,
      seed: 3,
      verification: { kind: 'none' },
    });
    expect(c.status).toBe(201);
  });
  afterAll(() => t.close());

  it('keeps a score upload under its SHA-256 and a target upload under a random key, once however often it comes', async () => {
    const v = await NodeVolunteer.register(t.app);
    const score = (await v.claim()) as WorkAssignment;
    expect(score.phase).toBe('score');
    expect((await v.upload(score, await v.compute(score))).status).toBe(201);

    const target = (await v.claim()) as WorkAssignment;
    expect(target.phase).toBe('target');
    const rows = await v.compute(target);
    const before = storedFiles();
    // The same upload twice at once (a retry racing the first): one row, one stored copy.
    const statuses = (await Promise.all([v.upload(target, rows), v.upload(target, rows)])).map((r) => r.status);
    expect(statuses.sort()).toEqual([200, 201]);
    expect(storedFiles()).toBe(before + 1);
    expect((await v.upload(target, rows)).status).toBe(200);
    expect(storedFiles()).toBe(before + 1);

    const stored = await t.deps.database.db
      .select({ phase: workItems.phase, blobKey: results.blobKey, checksum: results.checksum })
      .from(results)
      .innerJoin(workItems, eq(workItems.id, results.workItemId))
      .orderBy(asc(results.id));
    expect(stored.map((r) => r.phase)).toEqual(['score', 'target']);
    const [scored, targeted] = stored as [(typeof stored)[0], (typeof stored)[0]];
    // Features are served to align volunteers, who check them against their SHA-256.
    expect(sha256(await t.deps.blobs.get(scored.blobKey))).toBe(scored.blobKey);
    const bytes = await t.deps.blobs.get(targeted.blobKey);
    expect(sha256(bytes)).not.toBe(targeted.blobKey);
    const decoded = decodeTargets(bytes);
    expect(decoded.ids).toEqual(rows.ids);
    expect(decoded.values).toEqual(rows.values);
    // A retry is known by the checksum its codec carries and its length.
    expect(targeted.checksum).toBe(`crc32:${decoded.checksum.toString(16).padStart(8, '0')}:${bytes.length}`);
  });
});
