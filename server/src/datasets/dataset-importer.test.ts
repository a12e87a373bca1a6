import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseKind } from '@coopt/shared';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from '../blobs/local-blob-store.ts';
import type { Database } from '../db/database.ts';
import { datasets, labelRanges, sampleRanges } from '../db/schema.ts';
import { idxImages, idxLabels, pixelsFor } from '../test/dataset-files.ts';
import { databaseKinds, openTestDatabase } from '../test/test-database.ts';
import { fileSource } from './byte-source.ts';
import { DatasetFileError } from './dataset-file-error.ts';
import { DatasetExistsError, importDataset } from './dataset-importer.ts';
import { streamSamples } from './dataset-samples.ts';
import { listAdminDatasets } from './dataset-views.ts';
import { readIdx } from './idx-reader.ts';

describe.each(databaseKinds())('dataset import on %s', (kind: DatabaseKind) => {
  let database: Database;
  let blobs: LocalBlobStore;
  let dir: string;
  const pixels = pixelsFor(25, 16);
  const labels = Array.from({ length: 25 }, (_, i) => i % 3);

  const write = (name: string, bytes: Uint8Array) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, bytes);
    return fileSource(p);
  };
  const openIdx = (imageBytes = idxImages(25, 4, 4, pixels)) =>
    readIdx(write(`img-${Math.random()}`, imageBytes), write(`lab-${Math.random()}`, idxLabels(labels)), {
      batchSize: 7,
    });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-import-'));
    blobs = new LocalBlobStore(path.join(dir, 'blobs'));
    database = await openTestDatabase(kind);
  });
  afterAll(async () => {
    await database.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('registers the dataset with sample ranges and separate label ranges', async () => {
    const progress: number[] = [];
    const row = await importDataset(
      { database, blobs },
      { name: 'tiny', format: 'idx', stream: await openIdx(), chunkSize: 10, onProgress: (p) => progress.push(p.done) },
    );
    expect(row).toMatchObject({ name: 'tiny', count: 25, height: 4, width: 4, channels: 1 });
    expect(progress).toEqual([10, 20, 25]);
    const ranges = await database.db.select().from(sampleRanges).where(eq(sampleRanges.datasetId, row.id));
    expect(ranges.map((r) => [r.start, r.count])).toEqual([
      [0, 10],
      [10, 10],
      [20, 5],
    ]);
    const labelRows = await database.db.select().from(labelRanges).where(eq(labelRanges.datasetId, row.id));
    expect(labelRows).toHaveLength(3);
    const storedLabels = new Int32Array(Uint8Array.from(await blobs.get(labelRows[1]?.blobKey as string)).buffer);
    expect(Array.from(storedLabels)).toEqual(labels.slice(10, 20));
    const [admin] = await listAdminDatasets(database);
    expect(admin).toMatchObject({ hasLabels: true, classNames: ['0', '1', '2'] });
  });

  it('streams back exactly the imported pixels for any sample range, across chunk boundaries', async () => {
    const [row] = await database.db.select().from(datasets).where(eq(datasets.name, 'tiny'));
    if (!row) throw new Error('tiny missing');
    for (const [start, count] of [
      [0, 25],
      [8, 5],
      [19, 2],
      [24, 1],
    ] as const) {
      const parts: Uint8Array[] = [];
      for await (const part of streamSamples({ database, blobs }, row, start, count)) parts.push(part);
      expect(Buffer.compare(Buffer.concat(parts), Buffer.from(pixels.subarray(start * 16, (start + count) * 16)))).toBe(
        0,
      );
    }
  });

  it('refuses a second dataset of the same name and leaves the first intact', async () => {
    await expect(
      importDataset({ database, blobs }, { name: 'tiny', format: 'idx', stream: await openIdx() }),
    ).rejects.toBeInstanceOf(DatasetExistsError);
    expect(await database.db.select().from(datasets).where(eq(datasets.name, 'tiny'))).toHaveLength(1);
  });

  it('registers nothing when the file turns out bad half-way', async () => {
    const truncated = idxImages(25, 4, 4, pixels).subarray(0, 16 + 16 * 18);
    const stream = await openIdx(truncated);
    await expect(
      importDataset({ database, blobs }, { name: 'half', format: 'idx', stream, chunkSize: 5 }),
    ).rejects.toBeInstanceOf(DatasetFileError);
    expect(await database.db.select().from(datasets).where(eq(datasets.name, 'half'))).toHaveLength(0);
    expect(await database.db.select().from(datasets)).toHaveLength(1);
  });
});
