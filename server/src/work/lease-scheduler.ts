import type { ClaimRequest } from '@coopt/shared';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { leases } from '../db/schema.ts';

export interface LeaseGrant {
  leaseId: number;
  workItemId: number;
  expiresAt: Date;
}

/** Ends every lease whose deadline has passed: its work item goes back to the pool. */
export async function expireLeases(database: Database): Promise<number> {
  const ended = await database.db
    .update(leases)
    .set({ active: false, outcome: 'expired' })
    .where(and(eq(leases.active, true), lt(leases.expiresAt, sql`now()`)))
    .returning({ id: leases.id });
  return ended.length;
}

/**
 * Leases one open work item to a volunteer. The candidate row is locked with FOR UPDATE SKIP LOCKED,
 * so concurrent claims (from any number of API processes) pass over each other's rows instead of
 * waiting; under that lock a fresh count of live leases and results decides whether the item still
 * needs another replica, so no item is ever handed out more often than its policy allows.
 * A volunteer never gets the same item twice (replicas must be independent).
 */
export async function claimWork(
  database: Database,
  volunteerId: string,
  caps: ClaimRequest,
  leaseSeconds: number,
): Promise<LeaseGrant | null> {
  // A device that cannot hold a prior's model is only offered work for priors it can run.
  const maxBytes = caps.maxModelBytes ?? null;
  await expireLeases(database);
  return database.db.transaction(async (tx) => {
    for (let skip = 0; skip < 50; skip++) {
      const candidates = await tx.execute<{ id: number; replicas_wanted: number }>(sql`
        select wi.id, wi.replicas_wanted from work_items wi
        join prior_models pm on pm.id = wi.model_id
        where wi.status = 'open'
          and (${maxBytes}::bigint is null or coalesce(pm.model_bytes, 0) <= ${maxBytes}::bigint)
          and not exists (select 1 from leases l where l.work_item_id = wi.id and l.volunteer_id = ${volunteerId} and (l.active or l.outcome = 'uploaded'))
          and not exists (select 1 from results r where r.work_item_id = wi.id and r.volunteer_id = ${volunteerId})
          and (select count(*) from leases l where l.work_item_id = wi.id and l.active)
            + (select count(*) from results r where r.work_item_id = wi.id) < wi.replicas_wanted
        order by wi.id
        offset ${skip}
        limit 1
        for update of wi skip locked`);
      const row = rowsOf<{ id: number; replicas_wanted: number }>(candidates)[0];
      if (!row) return null;
      // A new statement sees every lease committed before we took the lock.
      const counted = await tx.execute<{ n: string | number }>(sql`
        select (select count(*) from leases where work_item_id = ${row.id} and active)
             + (select count(*) from results where work_item_id = ${row.id}) as n`);
      if (Number(rowsOf<{ n: string | number }>(counted)[0]?.n ?? 0) >= row.replicas_wanted) continue;
      const [lease] = await tx
        .insert(leases)
        .values({ workItemId: row.id, volunteerId, expiresAt: sql`now() + make_interval(secs => ${leaseSeconds})` })
        .returning();
      if (!lease) throw new Error('lease insert returned no row');
      return { leaseId: lease.id, workItemId: row.id, expiresAt: lease.expiresAt };
    }
    return null;
  });
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
