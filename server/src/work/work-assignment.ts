import type { WorkAssignment } from '@coopt/shared';
import { defaultAlignmentTask } from '@coopt/shared/math';
import { eq, inArray } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { campaigns, datasets, leases, priorModels, rounds, shards, workItems } from '../db/schema.ts';
import { priorInputMeta } from '../priors/prior-views.ts';
import type { LeaseGrant } from './lease-scheduler.ts';

/** Everything about a lease that the volunteer and the upload check need. */
export async function leaseContext(database: Database, leaseId: number) {
  const [row] = await database.db
    .select({
      lease: leases,
      item: workItems,
      round: rounds,
      shard: shards,
      prior: priorModels,
      campaign: campaigns,
      dataset: datasets,
    })
    .from(leases)
    .innerJoin(workItems, eq(workItems.id, leases.workItemId))
    .innerJoin(rounds, eq(rounds.id, workItems.roundId))
    .innerJoin(shards, eq(shards.id, workItems.shardId))
    .innerJoin(priorModels, eq(priorModels.id, workItems.modelId))
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .innerJoin(datasets, eq(datasets.id, campaigns.datasetId))
    .where(eq(leases.id, leaseId))
    .limit(1);
  if (!row) return null;
  return { ...row, ...uploadShape(row.item.phase, row.prior, row.campaign, row.shard) };
}

/** How many rows of which width an item's upload has. */
function uploadShape(
  phase: string,
  prior: { featureDim: number | null },
  campaign: { targetDim: number },
  shard: { sampleCount: number },
) {
  // Scoring uploads the prior's raw features; aligning uploads the map T_k and its bias as
  // featureDim + 1 rows of n; targeting uploads n-dimensional targets for the shard.
  const rowDim = phase === 'score' ? (prior.featureDim ?? 0) : campaign.targetDim;
  const rowCount = phase === 'align' ? (prior.featureDim ?? 0) + 1 : shard.sampleCount;
  return { rowDim, rowCount };
}

type Row<T extends { $inferSelect: unknown }> = T['$inferSelect'];
interface FixedRows {
  rounds: Map<number, Row<typeof rounds>>;
  shards: Map<number, Row<typeof shards>>;
  priors: Map<number, Row<typeof priorModels>>;
  campaigns: Map<number, Row<typeof campaigns>>;
  datasets: Map<number, Row<typeof datasets>>;
}
const fixedRows = new WeakMap<Database, FixedRows>();

/**
 * What a fresh lease's assignment is made of, from the claim's own result and rows that never
 * change once written (round number, shard, prior, campaign parameters, dataset shape), which each
 * API process reads once and keeps. A claim is then one statement.
 */
export async function grantContext(database: Database, grant: LeaseGrant) {
  let cache = fixedRows.get(database);
  if (!cache) {
    cache = { rounds: new Map(), shards: new Map(), priors: new Map(), campaigns: new Map(), datasets: new Map() };
    fixedRows.set(database, cache);
  }
  const { db } = database;
  const { item } = grant;
  if (!cache.rounds.has(item.roundId)) {
    const [row] = await db
      .select({ round: rounds, campaign: campaigns, dataset: datasets })
      .from(rounds)
      .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
      .innerJoin(datasets, eq(datasets.id, campaigns.datasetId))
      .where(eq(rounds.id, item.roundId));
    if (!row) throw new Error(`work item ${grant.workItemId} names no round`);
    cache.rounds.set(row.round.id, row.round);
    cache.campaigns.set(row.campaign.id, row.campaign);
    cache.datasets.set(row.dataset.id, row.dataset);
  }
  if (!cache.shards.has(item.shardId)) {
    // A campaign's shards are read together: the next claims will want the others.
    const [one] = await db.select().from(shards).where(eq(shards.id, item.shardId));
    if (!one) throw new Error(`work item ${grant.workItemId} names no shard`);
    for (const s of await db.select().from(shards).where(eq(shards.campaignId, one.campaignId)))
      cache.shards.set(s.id, s);
  }
  if (!cache.priors.has(item.modelId)) {
    for (const p of await db
      .select()
      .from(priorModels)
      .where(inArray(priorModels.id, [item.modelId])))
      cache.priors.set(p.id, p);
  }
  const round = cache.rounds.get(item.roundId) as Row<typeof rounds>;
  const campaign = cache.campaigns.get(round.campaignId) as Row<typeof campaigns>;
  const dataset = cache.datasets.get(campaign.datasetId) as Row<typeof datasets>;
  const shard = cache.shards.get(item.shardId) as Row<typeof shards>;
  const prior = cache.priors.get(item.modelId) as Row<typeof priorModels>;
  return {
    lease: { id: grant.leaseId, expiresAt: grant.expiresAt },
    item: { phase: item.phase },
    round,
    campaign,
    dataset,
    prior,
    ...uploadShape(item.phase, prior, campaign, shard),
  };
}

/** A campaign's alignment split and ridge strength: from its seed, so they stay the same across rounds. */
export const alignmentTaskOf = (campaign: { seed: number }) => defaultAlignmentTask(campaign.seed);

export type LeaseContext = NonNullable<Awaited<ReturnType<typeof leaseContext>>>;

/** What an assignment is built from: a lease's context, or a fresh grant's. */
export type AssignmentSource = Pick<
  LeaseContext,
  'round' | 'campaign' | 'dataset' | 'prior' | 'rowDim' | 'rowCount'
> & {
  lease: Pick<LeaseContext['lease'], 'id' | 'expiresAt'>;
  item: Pick<LeaseContext['item'], 'phase'>;
};

export function toAssignment(ctx: AssignmentSource, heartbeatSeconds: number): WorkAssignment {
  return {
    leaseId: ctx.lease.id,
    expiresAt: ctx.lease.expiresAt.toISOString(),
    heartbeatSeconds,
    phase: ctx.item.phase,
    campaignId: ctx.campaign.id,
    round: ctx.round.number,
    prior: {
      id: ctx.prior.id,
      name: ctx.prior.name,
      modelUrl: `/api/priors/${ctx.prior.id}/model.json`,
      weightsUrl: `/api/priors/${ctx.prior.id}/weights.bin`,
      // Blob keys are the SHA-256 of their content.
      modelSha256: ctx.prior.graphModelBlobKey ?? '',
      weightsSha256: ctx.prior.weightsBlobKey ?? '',
      modelBytes: ctx.prior.modelBytes ?? 0,
      featureDim: ctx.prior.featureDim ?? 0,
      ...priorInputMeta(ctx.prior),
    },
    dataset: {
      id: ctx.dataset.id,
      height: ctx.dataset.height,
      width: ctx.dataset.width,
      channels: ctx.dataset.channels,
    },
    sampleIdsUrl: `/api/work/leases/${ctx.lease.id}/sample-ids`,
    samplesUrl: `/api/work/leases/${ctx.lease.id}/samples`,
    alignmentUrl: ctx.item.phase === 'target' ? `/api/work/leases/${ctx.lease.id}/alignment` : null,
    align:
      ctx.item.phase === 'align'
        ? {
            featuresUrl: `/api/work/leases/${ctx.lease.id}/features`,
            referenceUrl: `/api/work/leases/${ctx.lease.id}/reference`,
            ...alignmentTaskOf(ctx.campaign),
          }
        : null,
    sampleCount: ctx.rowCount,
    rowDim: ctx.rowDim,
    resultUrl: `/api/work/leases/${ctx.lease.id}/result`,
  };
}
