import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { ErrorCode } from '@coopt/shared';
import { decodeTargets, TargetCodecError } from '@coopt/shared/math';
import { and, eq, sql } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { results } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import type { LeaseContext } from './work-assignment.ts';

const bad = (message: string) => new AppError(422, ErrorCode.BadTargets, message);

/** A shard's sample ids never change (the blob key is their hash), so each process reads them once. */
const sampleIdCache = new Map<string, Int32Array>();
async function shardSampleIds(blobs: BlobStore, key: string): Promise<Int32Array> {
  let ids = sampleIdCache.get(key);
  if (!ids) {
    ids = new Int32Array(Uint8Array.from(await blobs.get(key)).buffer);
    if (sampleIdCache.size >= 10_000) sampleIdCache.clear();
    sampleIdCache.set(key, ids);
  }
  return ids;
}

export interface UploadOutcome {
  resultId: number;
  rows: number;
  /** True when this exact upload had been stored before (a retry). */
  duplicate: boolean;
}

/**
 * Checks and stores one upload for a lease: the codec's own checks (magic, size, checksum), then
 * the row width, the row ids (exactly the shard's samples in order, or the map's row numbers for
 * an align item) and finite values. Credit is one per sample of the shard (or shared set) processed. The same upload
 * twice is one result; a different one for the same work item is refused.
 */
export async function acceptResult(
  deps: { database: Database; blobs: BlobStore },
  ctx: LeaseContext,
  volunteerId: string,
  body: Uint8Array,
): Promise<UploadOutcome> {
  const { db } = deps.database;
  const checksum = createHash('sha256').update(body).digest('hex');
  const [previous] = await db
    .select()
    .from(results)
    .where(and(eq(results.workItemId, ctx.item.id), eq(results.volunteerId, volunteerId)))
    .limit(1);
  if (previous) {
    if (previous.checksum === checksum) return { resultId: previous.id, rows: previous.rows, duplicate: true };
    throw new AppError(409, ErrorCode.Conflict, 'a different result for this work item was already uploaded');
  }
  if (!ctx.lease.active || ctx.lease.expiresAt.getTime() < Date.now()) {
    throw new AppError(
      409,
      ErrorCode.LeaseExpired,
      'this lease has expired and its work went back to the pool; claim new work',
    );
  }

  let decoded: ReturnType<typeof decodeTargets>;
  try {
    decoded = decodeTargets(body, { crc32: (b) => zlib.crc32(b) });
  } catch (err) {
    if (err instanceof TargetCodecError) throw bad(err.message);
    throw err;
  }
  if (decoded.dim !== ctx.rowDim) throw bad(`rows have ${decoded.dim} values; this work item needs ${ctx.rowDim}`);
  if (ctx.item.phase === 'align') {
    // The map's rows are numbered 0..featureDim: T_k's rows, then the bias.
    if (decoded.ids.length !== ctx.rowCount)
      throw bad(
        `${decoded.ids.length} rows uploaded; the map of a ${ctx.rowCount - 1}-feature prior has ${ctx.rowCount}`,
      );
    for (let i = 0; i < ctx.rowCount; i++) {
      if (decoded.ids[i] !== i) throw bad(`map row ${i} is numbered ${decoded.ids[i]}`);
    }
  } else {
    const expected = await shardSampleIds(deps.blobs, ctx.shard.sampleIdsBlobKey);
    if (decoded.ids.length !== expected.length)
      throw bad(`${decoded.ids.length} rows uploaded; the shard has ${expected.length} samples`);
    for (let i = 0; i < expected.length; i++) {
      if (decoded.ids[i] !== expected[i])
        throw bad(`row ${i} is sample ${decoded.ids[i]}; the shard lists sample ${expected[i]} there`);
    }
  }
  const values = decoded.values;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    // x - x is NaN exactly for NaN and +-Infinity, and far cheaper than Number.isFinite on typed arrays.
    if (x - x !== 0) {
      throw bad(`row ${Math.floor(i / decoded.dim)} (sample ${decoded.ids[Math.floor(i / decoded.dim)]}) holds ${x}`);
    }
  }

  const blob = await deps.blobs.put(body, { sha256: checksum });
  // One statement, so one round trip and atomic: store the result and, only if it was stored, end
  // the lease and credit the volunteer.
  const [row] = await deps.database.rows<{ id: number; rows: number }>(
    sql`
      with stored as (
        insert into results (work_item_id, volunteer_id, lease_id, blob_key, checksum, rows)
        values (${ctx.item.id}, ${volunteerId}, ${ctx.lease.id}, ${blob.key}, ${checksum}, ${decoded.ids.length})
        on conflict do nothing
        returning id, rows
      ),
      ended as (
        update leases set active = false, outcome = 'uploaded'
        where id = ${ctx.lease.id} and exists (select 1 from stored)
      ),
      credited as (
        update volunteers set credit = credit + ${ctx.shard.sampleCount}, last_seen_at = now()
        where id = ${volunteerId} and exists (select 1 from stored)
      )
      select id, rows from stored`,
    { prepare: true },
  );
  if (!row) throw new AppError(409, ErrorCode.Conflict, 'a result for this work item was uploaded at the same time');
  return { resultId: row.id, rows: row.rows, duplicate: false };
}
