import type { ClaimRequest } from '@coopt/shared';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { leases, workItems } from '../db/schema.ts';

export interface LeaseGrant {
  leaseId: number;
  workItemId: number;
  expiresAt: Date;
  /** The leased item's fixed fields, so the assignment needs no second query. */
  item: { phase: 'score' | 'align' | 'target'; roundId: number; shardId: number; modelId: number };
}

/** Ends every lease whose deadline has passed: its replica is freed and the item is claimable again. */
export async function expireLeases(database: Database): Promise<number> {
  return database.db.transaction(async (tx) => {
    const ended = await tx
      .update(leases)
      .set({ active: false, outcome: 'expired' })
      .where(and(eq(leases.active, true), lt(leases.expiresAt, sql`now()`)))
      .returning({ workItemId: leases.workItemId });
    for (const e of ended) {
      await tx
        .update(workItems)
        .set({
          taken: sql`${workItems.taken} - 1`,
          status: sql`case when ${workItems.status} = 'leased' then 'open' else ${workItems.status} end`,
        })
        .where(eq(workItems.id, e.workItemId));
    }
    return ended.length;
  });
}

/**
 * Leases one open work item to a volunteer in a single statement: the candidate row is locked with
 * FOR UPDATE SKIP LOCKED, so concurrent claims (from any number of API processes) pass over each
 * other's rows instead of waiting, and its `taken` counter is incremented in the same UPDATE. When
 * a row changed after the statement began, Postgres re-checks `taken < replicas_wanted` on its
 * newest version before locking it, so no item is ever handed out more often than its policy
 * allows. A volunteer never gets the same item twice (replicas must be independent), and a device
 * is offered only priors whose model it can hold (and, if it names them, only those priors or that campaign). Expired leases are swept when nothing is free.
 */
export async function claimWork(
  database: Database,
  volunteerId: string,
  caps: ClaimRequest,
  leaseSeconds: number,
): Promise<LeaseGrant | null> {
  // Claimed rows leave the open-items index only when vacuum removes their old versions, so a
  // scan from the lowest id would wade through every earlier claim. Each process resumes after the
  // id it last handed out and wraps around to the start when nothing is left past it.
  const cursor = cursors.get(database) ?? 0;
  const grant =
    (await tryClaim(database, volunteerId, caps, leaseSeconds, cursor)) ??
    (cursor > 0 ? await tryClaim(database, volunteerId, caps, leaseSeconds, 0) : null) ??
    ((await expireLeases(database)) > 0 ? await tryClaim(database, volunteerId, caps, leaseSeconds, 0) : null);
  if (grant) cursors.set(database, grant.workItemId);
  return grant;
}

const cursors = new WeakMap<Database, number>();

async function tryClaim(
  database: Database,
  volunteerId: string,
  caps: ClaimRequest,
  leaseSeconds: number,
  after: number,
): Promise<LeaseGrant | null> {
  const maxBytes = caps.maxModelBytes ?? null;
  // A Postgres array literal, so the statement keeps one parameter however many priors are listed.
  const priors = caps.priorIds ? `{${caps.priorIds.join(',')}}` : null;
  const campaignId = caps.campaignId ?? null;
  // One statement, so one round trip and atomic without an explicit transaction: pick and lock a
  // row, bump its counter (re-checked on its newest version), and insert the lease.
  const [row] = rowsOf<{
    id: number;
    work_item_id: number;
    expires_at: string | Date;
    phase: LeaseGrant['item']['phase'];
    round_id: number;
    shard_id: number;
    model_id: number;
  }>(
    await database.rows(
      sql`
      with picked as (
        update work_items w
        set taken = w.taken + 1, status = case when w.taken + 1 >= w.replicas_wanted then 'leased' else 'open' end
        from (
          select wi.id from work_items wi
          join prior_models pm on pm.id = wi.model_id
          where wi.status = 'open'
            and wi.id > ${after}
            and wi.taken < wi.replicas_wanted
            and (${maxBytes}::bigint is null or coalesce(pm.model_bytes, 0) <= ${maxBytes}::bigint)
            and (${priors}::int[] is null or wi.model_id = any(${priors}::int[]))
            and (${campaignId}::int is null or wi.round_id in (select r.id from rounds r where r.campaign_id = ${campaignId}::int))
            and not exists (select 1 from leases l where l.work_item_id = wi.id and l.volunteer_id = ${volunteerId} and (l.active or l.outcome = 'uploaded'))
            and not exists (select 1 from results r where r.work_item_id = wi.id and r.volunteer_id = ${volunteerId})
          order by wi.id
          limit 1
          for update of wi skip locked
        ) c
        where w.id = c.id and w.taken < w.replicas_wanted
        returning w.id, w.phase, w.round_id, w.shard_id, w.model_id
      ),
      lease as (
        insert into leases (work_item_id, volunteer_id, expires_at)
        select id, ${volunteerId}, now() + make_interval(secs => ${leaseSeconds}) from picked
        returning id, work_item_id, expires_at
      )
      select lease.id, lease.work_item_id, lease.expires_at, picked.phase, picked.round_id, picked.shard_id, picked.model_id
      from lease join picked on picked.id = lease.work_item_id`,
      // Prepared: parsed and planned once per connection, not once per claim.
      { prepare: true },
    ),
  );
  if (!row) return null;
  return {
    leaseId: row.id,
    workItemId: row.work_item_id,
    expiresAt: new Date(row.expires_at),
    item: { phase: row.phase, roundId: row.round_id, shardId: row.shard_id, modelId: row.model_id },
  };
}

/** drizzle's execute returns rows directly (postgres-js) or as { rows } (PGlite). */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** Pushes a live lease's deadline out; null when the lease is not this volunteer's or no longer live. */
export async function heartbeat(database: Database, leaseId: number, leaseSeconds: number): Promise<Date | null> {
  const [row] = await database.db
    .update(leases)
    .set({ heartbeatAt: sql`now()`, expiresAt: sql`now() + make_interval(secs => ${leaseSeconds})` })
    .where(and(eq(leases.id, leaseId), eq(leases.active, true), sql`${leases.expiresAt} >= now()`))
    .returning({ expiresAt: leases.expiresAt });
  return row?.expiresAt ?? null;
}
