import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore } from '../server/src/blobs/local-blob-store.ts';
import { ByteReader } from '../server/src/datasets/byte-reader.ts';
import { fileSource } from '../server/src/datasets/byte-source.ts';
import { importDataset } from '../server/src/datasets/dataset-importer.ts';
import { readIdx } from '../server/src/datasets/idx-reader.ts';
import { isAvailable, knownSources } from '../server/src/datasets/known-sources.ts';
import { openDatabase } from '../server/src/db/database.ts';
import { applyMigrations } from '../server/src/db/migrations.ts';
import { emit, medianSeconds } from './bench-report.ts';

/**
 * Dataset import (gunzip + parse + chunked blob writes + one registering transaction on PGlite)
 * against the floor of that work: just gunzipping and reading the same files.
 */
// The 60k train split where Debian's package is installed; otherwise the committed 10k test split.
const available = knownSources.filter(isAvailable);
const source = available.find((s) => s.id === 'fashion-mnist-train') ?? available[0];
if (!source) throw new Error('no Fashion-MNIST source available');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-bench-import-'));

try {
  const readOnly = await medianSeconds(7, async () => {
    for (const file of [source.images, source.labels]) {
      const reader = await ByteReader.open(fileSource(file));
      while ((await reader.readUpTo(4 << 20)).length > 0);
    }
  });

  const database = await openDatabase({ kind: 'pglite', dataDir: path.join(dir, 'pglite') });
  await applyMigrations(database);
  const blobs = new LocalBlobStore(path.join(dir, 'blobs'));
  let run = 0;
  let count = 0;
  const imported = await medianSeconds(7, async () => {
    const stream = await readIdx(fileSource(source.images), fileSource(source.labels), { batchSize: 4096 });
    const row = await importDataset({ database, blobs }, { name: `bench-${run++}`, format: 'idx', stream });
    count = row.count;
  });
  await database.close();

  emit({
    bench: 'dataset-import',
    notes: [`${source.id}: ${count} images, median of 7 after a warm-up, embedded PGlite, local blob store`],
    figures: [
      {
        name: 'IDX import throughput',
        value: count / imported,
        unit: 'images/s',
        baseline: { name: 'gunzip + read the same files only', value: count / readOnly },
        ratio: readOnly / imported,
        goal: '>= 0.5x',
      },
    ],
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
