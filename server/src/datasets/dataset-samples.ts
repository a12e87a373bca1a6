import { and, asc, eq, gt, lte, sql } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { sampleRanges } from '../db/schema.ts';
import type { DatasetRow } from './dataset-views.ts';
import { bytesPerImage } from './sample-stream.ts';

/**
 * Streams the raw uint8 HWC pixels of samples [start, start + count) by reading byte ranges
 * of the chunk blobs that hold them.
 */
export async function* streamSamples(
  deps: { database: Database; blobs: BlobStore },
  dataset: DatasetRow,
  start: number,
  count: number,
): AsyncIterable<Uint8Array> {
  const per = bytesPerImage(dataset);
  const end = start + count;
  const ranges = await deps.database.db
    .select()
    .from(sampleRanges)
    .where(
      and(
        eq(sampleRanges.datasetId, dataset.id),
        lte(sampleRanges.start, end - 1),
        gt(sql`${sampleRanges.start} + ${sampleRanges.count}`, start),
      ),
    )
    .orderBy(asc(sampleRanges.start));
  for (const r of ranges) {
    const from = Math.max(start, r.start) - r.start;
    const to = Math.min(end, r.start + r.count) - r.start;
    yield* await deps.blobs.stream(r.blobKey, { start: from * per, end: to * per - 1 });
  }
}

/** The pixels of the given sample ids, in that order: each chunk blob that holds any of them is read once. */
export async function readSamplesByIds(
  deps: { database: Database; blobs: BlobStore },
  dataset: DatasetRow,
  ids: Int32Array,
): Promise<Uint8Array> {
  const per = bytesPerImage(dataset);
  const ranges = await deps.database.db
    .select()
    .from(sampleRanges)
    .where(eq(sampleRanges.datasetId, dataset.id))
    .orderBy(asc(sampleRanges.start));
  const out = new Uint8Array(ids.length * per);
  // Group the requested rows by the chunk that holds them, so each chunk is read once whatever the order.
  const byChunk = new Map<(typeof ranges)[number], number[]>();
  for (const [i, id] of ids.entries()) {
    const range = ranges.find((r) => id >= r.start && id < r.start + r.count);
    if (!range) throw new Error(`sample ${id} is outside dataset ${dataset.id}`);
    const rows = byChunk.get(range);
    if (rows) rows.push(i);
    else byChunk.set(range, [i]);
  }
  for (const [range, rows] of byChunk) {
    const chunk = await deps.blobs.get(range.blobKey);
    for (const i of rows) {
      const at = (ids[i] as number) - range.start;
      out.set(chunk.subarray(at * per, (at + 1) * per), i * per);
    }
  }
  return out;
}
