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
