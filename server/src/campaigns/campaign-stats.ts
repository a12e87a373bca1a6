import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { alignments, leases, priorModels, priorScores, results, workItems } from '../db/schema.ts';
import { rowsOf } from '../work/lease-scheduler.ts';
import { latestRound } from './create-campaign.ts';

/** Volunteers count as active while they hold a lease or uploaded within this window. */
const ACTIVE_SECONDS = 300;

/** Live figures for a campaign's current round, for the dashboard (polled). */
export async function campaignStats(database: Database, campaignId: number) {
  const { db } = database;
  const round = await latestRound(database, campaignId);
  if (!round) return null;
  const phase = async (p: 'score' | 'align' | 'target') => {
    const [row] = await db
      .select({ total: sql<number>`count(*)`, done: sql<number>`count(*) filter (where ${workItems.status} = 'done')` })
      .from(workItems)
      .where(and(eq(workItems.roundId, round.id), eq(workItems.phase, p)));
    return { total: Number(row?.total ?? 0), done: Number(row?.done ?? 0) };
  };
  const score = await phase('score');
  const align = await phase('align');
  // One character per shard, in shard order, for the dashboard's coverage map:
  // o open, l leased, d done (targets verified).
  const [cells] = rowsOf<{ cells: string | null }>(
    await db.execute(sql`
      select string_agg(left(w.status, 1), '' order by s.index) as cells
      from ${workItems} w join shards s on s.id = w.shard_id
      where w.round_id = ${round.id} and w.phase = 'target'`),
  );
  const target = await phase('target');
  const activity = rowsOf<{
    active: string | number;
    rows_minute: string | number;
    rows_total: string | number;
    leases_active: string | number;
    leases_expired: string | number;
    checked: string | number;
    verify_ms: string | number;
  }>(
    await db.execute(sql`
      select
        (select count(distinct v) from (
           select l.volunteer_id as v from ${leases} l join ${workItems} w on w.id = l.work_item_id
             where w.round_id = ${round.id} and l.active
           union
           select r.volunteer_id from ${results} r join ${workItems} w on w.id = r.work_item_id
             where w.round_id = ${round.id} and r.created_at > now() - make_interval(secs => ${ACTIVE_SECONDS})
        ) a) as active,
        (select coalesce(sum(r.rows), 0) from ${results} r join ${workItems} w on w.id = r.work_item_id
           where w.round_id = ${round.id} and w.phase <> 'align'
             and r.created_at > now() - interval '60 seconds') as rows_minute,
        (select coalesce(sum(r.rows), 0) from ${results} r join ${workItems} w on w.id = r.work_item_id
           where w.round_id = ${round.id} and w.phase <> 'align') as rows_total,
        (select count(*) from ${leases} l join ${workItems} w on w.id = l.work_item_id
           where w.round_id = ${round.id} and l.active) as leases_active,
        (select count(*) from ${leases} l join ${workItems} w on w.id = l.work_item_id
           where w.round_id = ${round.id} and l.outcome = 'expired') as leases_expired,
        (select coalesce(sum(r.checked_rows), 0) from ${results} r join ${workItems} w on w.id = r.work_item_id
           where w.round_id = ${round.id}) as checked,
        (select coalesce(sum(r.verify_ms), 0) from ${results} r join ${workItems} w on w.id = r.work_item_id
           where w.round_id = ${round.id}) as verify_ms`),
  )[0];
  const priors = await db
    .select({
      id: priorScores.modelId,
      name: priorModels.name,
      uniformity: priorScores.uniformity,
      heldOutR2: alignments.heldOutR2,
      reference: alignments.isReference,
    })
    .from(priorScores)
    .innerJoin(priorModels, eq(priorModels.id, priorScores.modelId))
    .leftJoin(alignments, and(eq(alignments.roundId, priorScores.roundId), eq(alignments.modelId, priorScores.modelId)))
    .where(eq(priorScores.roundId, round.id));
  return {
    campaignId,
    round: {
      number: round.number,
      status: round.status,
      bestPriorId: round.bestModelId,
      inconsistencyBefore: round.inconsistencyBefore,
      inconsistencyAfter: round.inconsistencyAfter,
    },
    scoring: score,
    aligning: align,
    coverage: {
      shards: target.total,
      targeted: target.done,
      fraction: target.total > 0 ? target.done / target.total : 0,
      cells: cells?.cells ?? '',
    },
    volunteers: { active: Number(activity?.active ?? 0) },
    /** Leases held now, and leases that ran out (their work went back to the pool). */
    leases: { active: Number(activity?.leases_active ?? 0), expired: Number(activity?.leases_expired ?? 0) },
    throughput: { rowsLastMinute: Number(activity?.rows_minute ?? 0), rowsTotal: Number(activity?.rows_total ?? 0) },
    /** The extra compute verification costs: rows the server recomputed (spot checks) and their time. */
    verification: {
      recomputedRows: Number(activity?.checked ?? 0),
      milliseconds: Number(activity?.verify_ms ?? 0),
      share: Number(activity?.rows_total ?? 0) > 0 ? Number(activity?.checked ?? 0) / Number(activity?.rows_total) : 0,
    },
    priors,
  };
}
