import { createHash } from 'node:crypto';
import type { DatasetFormat } from '@coopt/shared';
import { eq } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { datasetLabelSets, datasets, labelRanges, sampleRanges } from '../db/schema.ts';
import type { DatasetRow } from './dataset-views.ts';
import { bytesPerImage, type ImageShape, type SampleBatch, type SampleStream } from './sample-stream.ts';

/** Target bytes per stored chunk: large enough that per-blob costs (hash, fsync) vanish, small enough to cache. */
const CHUNK_BYTES = 8 << 20;

/** Images per stored chunk for a given image shape. */
export function defaultChunkSize(shape: ImageShape): number {
  return Math.max(64, Math.floor(CHUNK_BYTES / bytesPerImage(shape)));
}

export interface ImportProgress {
  done: number;
  total: number | null;
}

export interface ImportOptions {
  name: string;
  format: DatasetFormat;
  stream: SampleStream;
  chunkSize?: number;
  onProgress?: (p: ImportProgress) => void;
}

export class DatasetExistsError extends Error {
  constructor(readonly datasetName: string) {
    super(`a dataset named "${datasetName}" already exists`);
  }
}

interface Range {
  start: number;
  count: number;
  blobKey: string;
}

/**
 * Streams a dataset into the blob store chunk by chunk, then registers it in one transaction.
 * Killed at any point before that transaction commits, it leaves no dataset row behind (only
 * unreferenced, content-addressed blobs that a re-run reuses), so running it again is safe.
 */
export async function importDataset(
  deps: { database: Database; blobs: BlobStore },
  options: ImportOptions,
): Promise<DatasetRow> {
  const { db } = deps.database;
  if (await findDatasetByName(deps.database, options.name)) throw new DatasetExistsError(options.name);

  const chunkSize = options.chunkSize ?? defaultChunkSize(options.stream.shape);
  const per = bytesPerImage(options.stream.shape);
  const imageRanges: Range[] = [];
  const labelChunks: Range[] = [];
  let labelled = true;
  let done = 0;

  const flush = async (batch: SampleBatch) => {
    const pixels = await deps.blobs.put(batch.pixels);
    imageRanges.push({ start: done, count: batch.count, blobKey: pixels.key });
    if (batch.labels) {
      const bytes = new Uint8Array(batch.labels.buffer, batch.labels.byteOffset, batch.labels.byteLength);
      labelChunks.push({ start: done, count: batch.count, blobKey: (await deps.blobs.put(bytes)).key });
    } else {
      labelled = false;
    }
    done += batch.count;
    options.onProgress?.({ done, total: options.stream.total });
  };

  // One chunk is written while the next is read and decompressed: the two overlap on the thread pool.
  let writing: Promise<void> = Promise.resolve();
  for await (const chunk of rechunk(options.stream.batches, chunkSize, per)) {
    await writing;
    writing = flush(chunk);
    writing.catch(() => {}); // surfaced by the next await
  }
  await writing;

  const classNames = options.stream.classNames();
  const hasLabels = labelled && classNames !== null && labelChunks.length > 0;
  const sourceHash = createHash('sha256')
    .update(imageRanges.map((r) => r.blobKey).join('\n'))
    .digest('hex');
  const { shape } = options.stream;

  try {
    return await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(datasets)
        .values({ name: options.name, format: options.format, count: done, ...shape, sourceHash })
        .returning();
      if (!row) throw new Error('dataset insert returned no row');
      for (const part of batchesOf(imageRanges, 1000)) {
        await tx.insert(sampleRanges).values(part.map((r) => ({ datasetId: row.id, ...r })));
      }
      if (hasLabels) {
        for (const part of batchesOf(labelChunks, 1000)) {
          await tx.insert(labelRanges).values(part.map((r) => ({ datasetId: row.id, ...r })));
        }
        await tx.insert(datasetLabelSets).values({ datasetId: row.id, classNames });
      }
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new DatasetExistsError(options.name);
    throw err;
  }
}

export async function findDatasetByName(database: Database, name: string): Promise<DatasetRow | null> {
  const [row] = await database.db.select().from(datasets).where(eq(datasets.name, name)).limit(1);
  return row ?? null;
}

/** Regroups batches of any size into chunks of exactly `size` images (the last may be short). */
async function* rechunk(batches: AsyncIterable<SampleBatch>, size: number, per: number): AsyncIterable<SampleBatch> {
  let pixels = new Uint8Array(size * per);
  let labels: Int32Array | null = new Int32Array(size);
  let n = 0;
  let sawUnlabelled = false;
  for await (const batch of batches) {
    if (!batch.labels) sawUnlabelled = true;
    for (let i = 0; i < batch.count; ) {
      const take = Math.min(size - n, batch.count - i);
      pixels.set(batch.pixels.subarray(i * per, (i + take) * per), n * per);
      if (batch.labels && labels) labels.set(batch.labels.subarray(i, i + take), n);
      n += take;
      i += take;
      if (n === size) {
        yield { count: n, pixels, labels: sawUnlabelled ? null : labels };
        pixels = new Uint8Array(size * per);
        labels = new Int32Array(size);
        n = 0;
      }
    }
  }
  if (n > 0) {
    yield { count: n, pixels: pixels.subarray(0, n * per), labels: sawUnlabelled ? null : labels.subarray(0, n) };
  }
}

function* batchesOf<T>(items: T[], size: number): Iterable<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === '23505') return true;
  }
  return false;
}
