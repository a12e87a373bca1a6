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
 * Leases one open work item to a volunteer. Claims that arrive while an earlier claim's statement
 * is running are gathered and served by one statement (`ClaimBatcher`), so a crowd of volunteers
 * costs one round trip and one plan per batch, not per claim; a quiet server sends each claim on
 * its own at once. Candidate rows are locked with FOR UPDATE SKIP LOCKED, so concurrent claims
 * (from any number of API processes) pass over each other's rows instead of waiting, and each
 * row's `taken` counter is incremented in the same statement. When a row changed after the
 * statement began, Postgres re-checks `taken < replicas_wanted` on its newest version before
 * locking it, so no item is ever handed out more often than its policy allows. A volunteer never
 * gets the same item twice (replicas must be independent; a unique index on live leases holds this
 * even when two of its claims race in different statements), and a device is offered only priors
 * whose model it can hold (and, if it names them, only those priors or that campaign). A claim the
 * batch could not serve is retried on its own, from the start of the table; expired leases are
 * swept when nothing is free.
 */
export async function claimWork(
  database: Database,
  volunteerId: string,
  caps: ClaimRequest,
  leaseSeconds: number,
): Promise<LeaseGrant | null> {
  const filter = claimFilter(caps, leaseSeconds);
  const grant =
    (await batcherOf(database, filter).claim(volunteerId)) ??
    (await tryClaim(database, [volunteerId], filter, 0))[0] ??
    ((await expireLeases(database)) > 0 ? (await tryClaim(database, [volunteerId], filter, 0))[0] : null);
  return grant ?? null;
}

/** What a claim asks for besides its volunteer; claims with equal filters can share a statement. */
interface ClaimFilter {
  key: string;
  maxBytes: number | null;
  /** A Postgres array literal, so the statement keeps one parameter however many priors are listed. */
  priors: string | null;
  campaignId: number | null;
  leaseSeconds: number;
}

function claimFilter(caps: ClaimRequest, leaseSeconds: number): ClaimFilter {
  const maxBytes = caps.maxModelBytes ?? null;
  const priors = caps.priorIds ? `{${caps.priorIds.join(',')}}` : null;
  const campaignId = caps.campaignId ?? null;
  return { key: `${maxBytes}|${priors}|${campaignId}|${leaseSeconds}`, maxBytes, priors, campaignId, leaseSeconds };
}

/** The most claims one statement serves, and the most batch statements in flight per filter. */
const MAX_BATCH = 128;
const MAX_IN_FLIGHT = 2;

/**
 * Group commit for claims with one filter: a claim is sent at once while fewer than MAX_IN_FLIGHT
 * statements are running; otherwise it waits for the next statement, which serves every claim
 * that waited (up to MAX_BATCH). Each process resumes after the id it last handed out, since
 * claimed rows leave the open-items index only when vacuum removes their old versions, and a
 * scan from the lowest id would wade through every earlier claim. A batcher with nothing waiting
 * or running is dropped, so filters that volunteers stop sending leave nothing behind.
 */
class ClaimBatcher {
  private waiting: { volunteerId: string; done: (grant: LeaseGrant | null, error?: unknown) => void }[] = [];
  private inFlight = 0;
  constructor(
    private readonly database: Database,
    private readonly filter: ClaimFilter,
    private readonly onIdle: () => void,
  ) {}

  claim(volunteerId: string): Promise<LeaseGrant | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ volunteerId, done: (grant, error) => (error ? reject(error) : resolve(grant)) });
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight >= MAX_IN_FLIGHT || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, MAX_BATCH);
    this.inFlight++;
    tryClaim(
      this.database,
      batch.map((b) => b.volunteerId),
      this.filter,
      cursors.get(this.database) ?? 0,
    )
      .then(
        (grants) => {
          for (const [i, b] of batch.entries()) b.done(grants[i] ?? null);
          const last = grants.reduce((m, g) => Math.max(m, g?.workItemId ?? 0), 0);
          // Nothing left past the cursor for some claim: the next batch starts from the beginning.
          cursors.set(this.database, grants.some((g) => !g) ? 0 : Math.max(cursors.get(this.database) ?? 0, last));
        },
        (error) => {
          for (const b of batch) b.done(null, error);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.flush();
        if (this.inFlight === 0 && this.waiting.length === 0) this.onIdle();
      });
  }
}

const batchers = new WeakMap<Database, Map<string, ClaimBatcher>>();
const cursors = new WeakMap<Database, number>();

function batcherOf(database: Database, filter: ClaimFilter): ClaimBatcher {
  const byFilter = batchers.get(database) ?? new Map<string, ClaimBatcher>();
  batchers.set(database, byFilter);
  const batcher = byFilter.get(filter.key) ?? new ClaimBatcher(database, filter, () => byFilter.delete(filter.key));
  byFilter.set(filter.key, batcher);
  return batcher;
}

/** A Postgres text[] literal with every element quoted. */
function textArray(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

/**
 * One statement serving claims from several volunteers: it locks up to one candidate row per
 * volunteer (past `after`, and none that any of them holds or delivered), pairs the k-th candidate
 * with the k-th volunteer, bumps each paired row's counter and inserts the leases. The result is
 * aligned with `volunteerIds`: null where a volunteer got nothing.
 */
async function tryClaim(
  database: Database,
  volunteerIds: string[],
  filter: ClaimFilter,
  after: number,
): Promise<(LeaseGrant | null)[]> {
  const { maxBytes, priors, campaignId, leaseSeconds } = filter;
  const ids = textArray(volunteerIds);
  const rows = rowsOf<{
    id: number;
    work_item_id: number;
    volunteer_id: string;
    expires_at: string | Date;
    phase: LeaseGrant['item']['phase'];
    round_id: number;
    shard_id: number;
    model_id: number;
  }>(
    await database.rows(
      sql`
      with vols as (
        select v.volunteer_id::uuid as volunteer_id, v.ord
        from unnest(${ids}::text[]) with ordinality as v(volunteer_id, ord)
      ),
      cand as materialized (
        select wi.id from work_items wi
        join prior_models pm on pm.id = wi.model_id
        where wi.status = 'open'
          and wi.id > ${after}
          and wi.taken < wi.replicas_wanted
          and (${maxBytes}::bigint is null or coalesce(pm.model_bytes, 0) <= ${maxBytes}::bigint)
          and (${priors}::int[] is null or wi.model_id = any(${priors}::int[]))
          and (${campaignId}::int is null or wi.round_id in (select r.id from rounds r where r.campaign_id = ${campaignId}::int))
          -- Per candidate, in id order, probes of the item's own leases and results (OFFSET 0 keeps
          -- each a subplan): as an anti-join the planner would read every lease and open item first.
          and not exists (select 1 from leases l where l.work_item_id = wi.id and l.volunteer_id = any(${ids}::uuid[]) and (l.active or l.outcome = 'uploaded') offset 0)
          and not exists (select 1 from results r where r.work_item_id = wi.id and r.volunteer_id = any(${ids}::uuid[]) offset 0)
        order by wi.id
        limit ${volunteerIds.length}
        for update of wi skip locked
      ),
      pairs as materialized (
        select c.id, v.volunteer_id
        from (select id, row_number() over (order by id) as ord from cand) c
        join vols v on v.ord = c.ord
      ),
      lease as (
        insert into leases (work_item_id, volunteer_id, expires_at)
        select p.id, p.volunteer_id, now() + make_interval(secs => ${leaseSeconds}) from pairs p
        -- A volunteer whose other claim took this item in a statement that committed after this
        -- one's snapshot: the unique index turns the second live lease away, and the item stays as it was.
        on conflict (work_item_id, volunteer_id) where active do nothing
        returning id, work_item_id, volunteer_id, expires_at
      ),
      picked as (
        update work_items w
        set taken = w.taken + 1, status = case when w.taken + 1 >= w.replicas_wanted then 'leased' else 'open' end
        from lease l
        where w.id = l.work_item_id
        returning w.id, w.phase, w.round_id, w.shard_id, w.model_id
      )
      select lease.id, lease.work_item_id, lease.volunteer_id, lease.expires_at, picked.phase, picked.round_id, picked.shard_id, picked.model_id
      from lease join picked on picked.id = lease.work_item_id`,
      // Prepared: parsed and planned once per connection, not once per claim.
      { prepare: true },
    ),
  );
  const grants: (LeaseGrant | null)[] = volunteerIds.map(() => null);
  for (const row of rows) {
    // A volunteer listed twice (two claims in flight) takes the first free slot of its own.
    const slot = volunteerIds.findIndex((v, i) => v === row.volunteer_id && grants[i] === null);
    grants[slot] = {
      leaseId: row.id,
      workItemId: row.work_item_id,
      expiresAt: new Date(row.expires_at),
      item: { phase: row.phase, roundId: row.round_id, shardId: row.shard_id, modelId: row.model_id },
    };
  }
  return grants;
}

/**
 * Refreshes the planner's statistics of the work items, after a round opens its target items (one
 * per shard, thousands at once). A claim's candidate scan is planned from them: with estimates
 * from before the new rows (autovacuum catches up only within a minute or so), Postgres sorts
 * every open item instead of reading the open-items index in order up to the batch's size, which
 * made claims some 50 times slower.
 */
export async function refreshClaimStatistics(db: Database['db']): Promise<void> {
  await db.execute(sql`analyze work_items`);
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
