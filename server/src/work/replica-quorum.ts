import type { VerificationPolicy } from '@coopt/shared';
import { compareOutputs } from '@coopt/shared/converter';
import { decodeTargets } from '@coopt/shared/math';
import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { alignments, campaigns, results, rounds, volunteers, workItems } from '../db/schema.ts';
import { checkAlignmentUpload } from './alignment-check.ts';
import { spotCheck } from './spot-check.ts';
import { type LeaseContext, leaseContext } from './work-assignment.ts';

/** The indices of uploads that agree with each other (a quorum), or null when there is none. */
export function agreeingGroup(uploads: Float32Array[], policy: VerificationPolicy): number[] | null {
  if (uploads.length === 0) return null;
  if (policy.kind !== 'replication') return [0];
  for (let i = 0; i < uploads.length; i++) {
    const group = [i];
    for (let j = 0; j < uploads.length; j++) {
      if (
        j !== i &&
        compareOutputs(uploads[i] as Float32Array, uploads[j] as Float32Array).relError <= policy.tolerance
      )
        group.push(j);
    }
    if (group.length >= policy.replicas) return group;
  }
  return null;
}

export type Settlement = 'waiting' | 'done' | 'disputed';

/**
 * Once a work item has all its replicas: the uploads that agree (within the policy's tolerance)
 * are verified and the item is done; volunteers outside the quorum lose reputation. Without a
 * quorum the item asks for one more replica.
 */
export async function settleWorkItem(
  deps: { database: Database; blobs: BlobStore },
  itemId: number,
): Promise<Settlement> {
  const { db } = deps.database;
  const [row] = await db
    .select({ item: workItems, policy: campaigns.verificationPolicy })
    .from(workItems)
    .innerJoin(rounds, eq(rounds.id, workItems.roundId))
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .where(eq(workItems.id, itemId));
  if (!row) return 'waiting';
  const uploads = await db.select().from(results).where(eq(results.workItemId, itemId)).orderBy(asc(results.id));
  if (uploads.length < row.item.replicasWanted) return 'waiting';
  if (row.item.phase === 'align') return settleAlignment(deps, row.item, uploads);
  const policy = row.policy as VerificationPolicy;
  if (policy.kind === 'spot-check') return settleBySpotCheck(deps, row.item, uploads, policy);
  if (policy.kind === 'none') {
    // Structural checks passed at upload; nothing more to compare. One statement, so atomic.
    await deps.database.rows(
      sql`with verified as (update results set verified = true where work_item_id = ${itemId})
          update work_items set status = 'done' where id = ${itemId}`,
      { prepare: true },
    );
    return 'done';
  }
  const values = await Promise.all(uploads.map(async (u) => decodeTargets(await deps.blobs.get(u.blobKey)).values));
  const group = agreeingGroup(values, policy);
  if (!group) {
    await db
      .update(workItems)
      .set({ status: 'open', replicasWanted: row.item.replicasWanted + 1 })
      .where(eq(workItems.id, itemId));
    return 'disputed';
  }
  const agreed = group.map((i) => (uploads[i] as (typeof uploads)[number]).id);
  const outliers = uploads.filter((u) => !agreed.includes(u.id));
  await db.transaction(async (tx) => {
    await tx.update(results).set({ verified: true }).where(inArray(results.id, agreed));
    if (outliers.length > 0) {
      await tx
        .update(results)
        .set({ verified: false })
        .where(
          inArray(
            results.id,
            outliers.map((o) => o.id),
          ),
        );
      await tx
        .update(volunteers)
        .set({ reputation: sql`${volunteers.reputation} * 0.5` })
        .where(
          inArray(
            volunteers.id,
            outliers.map((o) => o.volunteerId),
          ),
        );
    }
    await tx.update(workItems).set({ status: 'done' }).where(eq(workItems.id, itemId));
  });
  return 'done';
}

type Tx = Parameters<Parameters<Database['db']['transaction']>[0]>[0];
type ServerCheck = { passed: boolean; checkedRows: number; ms: number };

/**
 * Settles an item by the server's own check of its newest unchecked upload: the result is marked
 * with the check's outcome and cost; a pass completes the item (after `onPass`), a failure halves
 * the volunteer's reputation and reopens the item for one more replica.
 */
async function settleByServerCheck<C extends ServerCheck>(
  deps: { database: Database; blobs: BlobStore },
  item: typeof workItems.$inferSelect,
  uploads: (typeof results.$inferSelect)[],
  check: (ctx: LeaseContext, upload: typeof results.$inferSelect) => Promise<C>,
  onPass?: (tx: Tx, outcome: C) => Promise<void>,
): Promise<Settlement> {
  const upload = uploads.filter((u) => u.verified === null).at(-1);
  if (!upload?.leaseId) return 'waiting';
  const ctx = await leaseContext(deps.database, upload.leaseId);
  if (!ctx) return 'waiting';
  const outcome = await check(ctx, upload);
  await deps.database.db.transaction(async (tx) => {
    await tx
      .update(results)
      .set({ verified: outcome.passed, checkedRows: outcome.checkedRows, verifyMs: outcome.ms })
      .where(eq(results.id, upload.id));
    if (outcome.passed) {
      await onPass?.(tx, outcome);
      await tx.update(workItems).set({ status: 'done' }).where(eq(workItems.id, item.id));
    } else {
      await tx
        .update(volunteers)
        .set({ reputation: sql`${volunteers.reputation} * 0.5` })
        .where(eq(volunteers.id, upload.volunteerId));
      await tx
        .update(workItems)
        .set({ status: 'open', replicasWanted: item.replicasWanted + 1 })
        .where(eq(workItems.id, item.id));
    }
  });
  return outcome.passed ? 'done' : 'disputed';
}

/** Spot-check policy: the newest unchecked upload is recomputed in part; a failure reopens the item. */
function settleBySpotCheck(
  deps: { database: Database; blobs: BlobStore },
  item: typeof workItems.$inferSelect,
  uploads: (typeof results.$inferSelect)[],
  policy: Extract<VerificationPolicy, { kind: 'spot-check' }>,
): Promise<Settlement> {
  return settleByServerCheck(deps, item, uploads, (ctx, upload) => spotCheck(deps, ctx, upload, policy));
}

/**
 * Align items under every policy: the server checks the newest unchecked map against the ridge
 * problem itself (no replica needed, since the check is exact and costs a few matrix products) and
 * measures its held-out fit. A passing map becomes the round's T_k; a failing one costs reputation
 * and reopens the item.
 */
function settleAlignment(
  deps: { database: Database; blobs: BlobStore },
  item: typeof workItems.$inferSelect,
  uploads: (typeof results.$inferSelect)[],
): Promise<Settlement> {
  return settleByServerCheck(
    deps,
    item,
    uploads,
    (ctx, upload) => checkAlignmentUpload(deps, ctx, upload.blobKey),
    async (tx, check) => {
      const mapBlob = await deps.blobs.put(
        new Uint8Array(check.map.buffer, check.map.byteOffset, check.map.byteLength),
      );
      await tx.insert(alignments).values({
        roundId: item.roundId,
        modelId: item.modelId,
        mapBlobKey: mapBlob.key,
        isReference: false,
        heldOutR2: check.heldOutR2,
        residual: check.residual,
      });
    },
  );
}
