import { ErrorCode, type VerificationPolicy } from '@coopt/shared';
import { type CheckedTargets, TargetCodecError } from '@coopt/shared/math';
import { and, eq, sql } from 'drizzle-orm';
import type { BlobStore, BlobWriter } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { results } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import type { HashedBody } from '../http/hashed-body.ts';
import type { TargetUploadReader } from './target-upload-reader.ts';
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
  /** True when storing it also settled its work item (a policy that needs nothing more). */
  settled: boolean;
}

/**
 * Checks and stores one upload for a lease: the codec's own checks (magic, size, checksum), then
 * the row width, the row ids (exactly the shard's samples in order, or the map's row numbers for
 * an align item) and finite values. Credit is one per sample of the shard (or shared set) processed. The same upload
 * twice is one result; a different one for the same work item is refused.
 *
 * The bytes were written to `writer` and read by `upload` as they arrived; their tail is
 * flushed while the rest is checked, and they become a blob only once every check passed (the
 * caller disposes of the writer, which drops them otherwise).
 * Under a policy that needs no more than one structurally valid upload, the same statement that
 * stores the result settles the work item.
 */
export async function acceptResult(
  deps: { database: Database; blobs: BlobStore },
  ctx: LeaseContext,
  volunteerId: string,
  body: HashedBody,
  writer: BlobWriter,
  upload: TargetUploadReader,
): Promise<UploadOutcome> {
  const checksum = body.sha256;
  const staging = writer.finish(checksum);
  staging.catch(() => undefined);
  // An earlier upload ended its lease, so a retry arrives on an ended one: answer it from the
  // stored row. A live lease has none yet, unless one races this (the insert below finds it).
  if (!ctx.lease.active || ctx.lease.expiresAt.getTime() < Date.now()) {
    const previous = await earlierUpload(deps.database, ctx.item.id, volunteerId, checksum);
    if (previous) return previous;
    throw new AppError(
      409,
      ErrorCode.LeaseExpired,
      'this lease has expired and its work went back to the pool; claim new work',
    );
  }
  const rows = await checkTargets(deps.blobs, ctx, upload);
  const blob = await (await staging).commit();
  const settles =
    ctx.item.phase !== 'align' &&
    ctx.item.replicasWanted === 1 &&
    (ctx.campaign.verificationPolicy as VerificationPolicy).kind === 'none';
  // One statement, so one round trip and atomic: store the result and, only if it was stored, end
  // the lease, credit the volunteer and (when nothing more is needed) mark the work item done.
  const [row] = await deps.database.rows<{ id: number; rows: number }>(
    sql`
        with stored as (
          insert into results (work_item_id, volunteer_id, lease_id, blob_key, checksum, rows, verified)
          values (${ctx.item.id}, ${volunteerId}, ${ctx.lease.id}, ${blob.key}, ${checksum}, ${rows}, ${settles ? true : null})
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
        ),
        settled as (
          update work_items set status = 'done'
          where id = ${ctx.item.id} and ${settles} and exists (select 1 from stored)
        )
        select id, rows from stored`,
    { prepare: true },
  );
  if (!row) {
    const previous = await earlierUpload(deps.database, ctx.item.id, volunteerId, checksum);
    if (previous) return previous;
    throw new AppError(409, ErrorCode.Conflict, 'a result for this work item was uploaded at the same time');
  }
  return { resultId: row.id, rows: row.rows, duplicate: false, settled: settles };
}

/** This volunteer's stored upload for the item: the same bytes again are a duplicate, others a conflict. */
async function earlierUpload(
  database: Database,
  itemId: number,
  volunteerId: string,
  checksum: string,
): Promise<UploadOutcome | null> {
  const [previous] = await database.db
    .select()
    .from(results)
    .where(and(eq(results.workItemId, itemId), eq(results.volunteerId, volunteerId)))
    .limit(1);
  if (!previous) return null;
  if (previous.checksum !== checksum)
    throw new AppError(409, ErrorCode.Conflict, 'a different result for this work item was already uploaded');
  return { resultId: previous.id, rows: previous.rows, duplicate: true, settled: false };
}

/** The upload's structural checks; returns its row count, or throws 422 naming the first problem. */
async function checkTargets(blobs: BlobStore, ctx: LeaseContext, upload: TargetUploadReader): Promise<number> {
  let checked: CheckedTargets;
  try {
    checked = upload.finish();
  } catch (err) {
    if (err instanceof TargetCodecError) throw bad(err.message);
    throw err;
  }
  const { ids, dim } = checked;
  if (dim !== ctx.rowDim) throw bad(`rows have ${dim} values; this work item needs ${ctx.rowDim}`);
  if (ctx.item.phase === 'align') {
    // The map's rows are numbered 0..featureDim: T_k's rows, then the bias.
    if (ids.length !== ctx.rowCount)
      throw bad(`${ids.length} rows uploaded; the map of a ${ctx.rowCount - 1}-feature prior has ${ctx.rowCount}`);
    for (let i = 0; i < ctx.rowCount; i++) {
      if (ids[i] !== i) throw bad(`map row ${i} is numbered ${ids[i]}`);
    }
  } else {
    const expected = await shardSampleIds(blobs, ctx.shard.sampleIdsBlobKey);
    if (ids.length !== expected.length)
      throw bad(`${ids.length} rows uploaded; the shard has ${expected.length} samples`);
    for (let i = 0; i < expected.length; i++) {
      if (ids[i] !== expected[i])
        throw bad(`row ${i} is sample ${ids[i]}; the shard lists sample ${expected[i]} there`);
    }
  }
  if (checked.firstNonFinite >= 0) {
    const row = Math.floor(checked.firstNonFinite / dim);
    throw bad(`row ${row} (sample ${ids[row]}) holds ${checked.nonFiniteValue}`);
  }
  return ids.length;
}
