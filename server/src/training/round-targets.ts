import { and, eq } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { roundExports } from '../db/schema.ts';
import { readSafetensors } from '../export/safetensors-reader.ts';

export interface RoundTargets {
  /** float32 [N, dim] */
  targets: Float32Array;
  dim: number;
  /** Dataset sample ids, row by row. */
  ids: Int32Array;
  /** The prior that made each row. */
  priorIds: Int32Array;
}

/** The merged targets of a completed round, from its safetensors export. */
export async function readRoundTargets(
  deps: { database: Database; blobs: BlobStore },
  roundId: number,
): Promise<RoundTargets> {
  const [exp] = await deps.database.db
    .select()
    .from(roundExports)
    .where(and(eq(roundExports.roundId, roundId), eq(roundExports.format, 'safetensors')));
  if (!exp) throw new Error(`round ${roundId} has no export`);
  const { at } = readSafetensors(await deps.blobs.get(exp.blobKey));
  const t = at('targets');
  const p = at('prior_ids');
  return {
    targets: new Float32Array(t.bytes.buffer, 0, t.bytes.byteLength / 4),
    dim: t.shape[1] as number,
    ids: Int32Array.from(new BigInt64Array(at('sample_ids').bytes.buffer), Number),
    priorIds: new Int32Array(p.bytes.buffer, 0, p.bytes.byteLength / 4),
  };
}
