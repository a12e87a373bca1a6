import zlib from 'node:zlib';
import { ErrorCode, type VerificationPolicy } from '@coopt/shared';
import { decodeTargets, TargetCodecError } from '@coopt/shared/math';
import { and, eq, sql } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { results } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import type { HashedBody } from '../http/hashed-body.ts';
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
 * The bytes are written to the blob store while they are checked and the database is asked for an
 * earlier upload; they become a blob only once every check passed. Under a policy that needs no
 * more than one structurally valid upload, the same statement that stores the result settles the
 * work item.
 */
export async function acceptResult(
  deps: { database: Database; blobs: BlobStore },
  ctx: LeaseContext,
  volunteerId: string,
  body: HashedBody,
): Promise<UploadOutcome> {
  const { db } = deps.database;
  const checksum = body.sha256;
  const previousRow = db
    .select()
    .from(results)
    .where(and(eq(results.workItemId, ctx.item.id), eq(results.volunteerId, volunteerId)))
    .limit(1);
  const staging = deps.blobs.stage(body.bytes, checksum);
  // Whatever happens below, staged bytes that were not committed are dropped.
  let committed = false;
  try {
    const [previous] = await previousRow;
    if (previous) {
      if (previous.checksum === checksum)
        return { resultId: previous.id, rows: previous.rows, duplicate: true, settled: false };
      throw new AppError(409, ErrorCode.Conflict, 'a different result for this work item was already uploaded');
    }
    if (!ctx.lease.active || ctx.lease.expiresAt.getTime() < Date.now()) {
      throw new AppError(
        409,
        ErrorCode.LeaseExpired,
        'this lease has expired and its work went back to the pool; claim new work',
      );
    }
    const rows = await checkTargets(deps.blobs, ctx, body.bytes);
    const blob = await (await staging).commit();
    committed = true;
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
    if (!row) throw new AppError(409, ErrorCode.Conflict, 'a result for this work item was uploaded at the same time');
    return { resultId: row.id, rows: row.rows, duplicate: false, settled: settles };
  } finally {
    if (!committed)
      await staging.then(
        (staged) => staged.discard(),
        () => undefined,
      );
  }
}

/** The upload's structural checks; returns its row count, or throws 422 naming the first problem. */
async function checkTargets(blobs: BlobStore, ctx: LeaseContext, body: Uint8Array): Promise<number> {
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
    const expected = await shardSampleIds(blobs, ctx.shard.sampleIdsBlobKey);
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
  return decoded.ids.length;
}
