import { asc, eq } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { labelRanges } from '../db/schema.ts';

/** A dataset's evaluation labels (int32 per sample), or null when it has none. Server-side only. */
export async function readLabels(
  deps: { database: Database; blobs: BlobStore },
  dataset: { id: number; count: number },
): Promise<Int32Array | null> {
  const ranges = await deps.database.db
    .select()
    .from(labelRanges)
    .where(eq(labelRanges.datasetId, dataset.id))
    .orderBy(asc(labelRanges.start));
  if (ranges.length === 0) return null;
  const out = new Int32Array(dataset.count);
  for (const r of ranges) {
    const bytes = Uint8Array.from(await deps.blobs.get(r.blobKey));
    out.set(new Int32Array(bytes.buffer, 0, r.count), r.start);
  }
  return out;
}
