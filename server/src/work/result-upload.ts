import { ErrorCode, type VerificationPolicy } from '@coopt/shared';
import { type CheckedTargets, TargetCodecError } from '@coopt/shared/math';
import { and, eq, sql } from 'drizzle-orm';
import { type BlobStore, type BlobWriter, randomBlobKey } from '../blobs/blob-store.ts';
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
 * What identifies an upload's bytes for a retry: the CRC-32 its codec carries (checked on arrival)
 * and its length. Target uploads are not hashed, so this is what every result row keeps.
 */
const fingerprintOf = (checked: CheckedTargets, size: number) =>
  `crc32:${checked.checksum.toString(16).padStart(8, '0')}:${size}`;

/**
 * Checks and stores one upload for a lease: the codec's own checks (magic, size, checksum), then
 * the row width, the row ids (exactly the shard's samples in order, or the map's row numbers for
 * an align item) and finite values. Credit is one per sample of the shard (or shared set) processed. The same upload
 * twice is one result; a different one for the same work item is refused.
 *
 * The bytes were written to `writer` and read by `upload` as they arrived; their tail is
 * flushed while the rest is checked, and they become a blob only once every check passed (the
 * caller disposes of the writer, which drops them otherwise). A score or align upload (served
 * again to volunteers, who check its SHA-256) is stored under its hash; a target upload, which
 * only the server reads back, under a random key, so it was never hashed (`body.sha256` is null).
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
  const key = body.sha256 ?? randomBlobKey();
  const staging = writer.finish(key);
  staging.catch(() => undefined);
  const checked = decodeUpload(upload);
  const fingerprint = fingerprintOf(checked, body.size);
  // An earlier upload ended its lease, so a retry arrives on an ended one: answer it from the
  // stored row. A live lease has none yet, unless one races this (the insert below finds it).
  if (!ctx.lease.active || ctx.lease.expiresAt.getTime() < Date.now()) {
    const previous = await earlierUpload(deps.database, ctx.item.id, volunteerId, fingerprint);
    if (previous) return previous;
    throw new AppError(
      409,
      ErrorCode.LeaseExpired,
      'this lease has expired and its work went back to the pool; claim new work',
    );
  }
  const rows = await checkRows(deps.blobs, ctx, checked);
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
          values (${ctx.item.id}, ${volunteerId}, ${ctx.lease.id}, ${blob.key}, ${fingerprint}, ${rows}, ${settles ? true : null})
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
    // A randomly keyed copy is no one's now; a hashed one is the stored result's own bytes.
    if (body.sha256 === null) await deps.blobs.delete(blob.key);
    const previous = await earlierUpload(deps.database, ctx.item.id, volunteerId, fingerprint);
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
  fingerprint: string,
): Promise<UploadOutcome | null> {
  const [previous] = await database.db
    .select()
    .from(results)
    .where(and(eq(results.workItemId, itemId), eq(results.volunteerId, volunteerId)))
    .limit(1);
  if (!previous) return null;
  if (previous.checksum !== fingerprint)
    throw new AppError(409, ErrorCode.Conflict, 'a different result for this work item was already uploaded');
  return { resultId: previous.id, rows: previous.rows, duplicate: true, settled: false };
}

/** The upload as its codec reads it; a malformed one is 422 naming the problem. */
function decodeUpload(upload: TargetUploadReader): CheckedTargets {
  try {
    return upload.finish();
  } catch (err) {
    if (err instanceof TargetCodecError) throw bad(err.message);
    throw err;
  }
}

/** The checks of an upload's rows against its work item; returns its row count, or throws 422 naming the first problem. */
async function checkRows(blobs: BlobStore, ctx: LeaseContext, checked: CheckedTargets): Promise<number> {
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
