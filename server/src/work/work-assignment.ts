import type { WorkAssignment } from '@coopt/shared';
import { defaultAlignmentTask } from '@coopt/shared/math';
import { eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { campaigns, datasets, leases, priorModels, rounds, shards, workItems } from '../db/schema.ts';
import { priorInputMeta } from '../priors/prior-views.ts';
import type { LeaseGrant } from './lease-scheduler.ts';

/**
 * Everything about a lease that the volunteer and the upload check need: the lease, its item, round
 * and campaign from the database; the shard, prior and dataset (fixed once written) from this
 * process's cache.
 */
export async function leaseContext(database: Database, leaseId: number) {
  // The round and campaign change state as work settles, so they are read with the lease.
  const [row] = await database.db
    .select({ lease: leases, item: workItems, round: rounds, campaign: campaigns })
    .from(leases)
    .innerJoin(workItems, eq(workItems.id, leases.workItemId))
    .innerJoin(rounds, eq(rounds.id, workItems.roundId))
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .where(eq(leases.id, leaseId))
    .limit(1);
  if (!row) return null;
  const { dataset, shard, prior } = await fixedRowsOf(database, row.item);
  return { ...row, dataset, shard, prior, ...uploadShape(row.item.phase, prior, row.campaign, shard) };
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
 * The rows a work item points at, as first read: the shard, prior and dataset never change once
 * written, nor do a round's number or a campaign's parameters (their status does; callers that need
 * it read it fresh). Each API process reads them once and keeps them, so a claim is one statement.
 */
async function fixedRowsOf(
  database: Database,
  item: { id: number; roundId: number; shardId: number | null; modelId: number },
) {
  if (item.shardId === null) throw new Error(`work item ${item.id} has no shard`);
  const shardId = item.shardId;
  let cache = fixedRows.get(database);
  if (!cache) {
    cache = { rounds: new Map(), shards: new Map(), priors: new Map(), campaigns: new Map(), datasets: new Map() };
    fixedRows.set(database, cache);
  }
  const { db } = database;
  if (!cache.rounds.has(item.roundId)) {
    const [row] = await db
      .select({ round: rounds, campaign: campaigns, dataset: datasets })
      .from(rounds)
      .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
      .innerJoin(datasets, eq(datasets.id, campaigns.datasetId))
      .where(eq(rounds.id, item.roundId));
    if (!row) throw new Error(`work item ${item.id} names no round`);
    cache.rounds.set(row.round.id, row.round);
    cache.campaigns.set(row.campaign.id, row.campaign);
    cache.datasets.set(row.dataset.id, row.dataset);
  }
  if (!cache.shards.has(shardId)) {
    // A campaign's shards are read together: the next items will want the others.
    const [one] = await db.select().from(shards).where(eq(shards.id, shardId));
    if (!one) throw new Error(`work item ${item.id} names no shard`);
    for (const s of await db.select().from(shards).where(eq(shards.campaignId, one.campaignId)))
      cache.shards.set(s.id, s);
  }
  if (!cache.priors.has(item.modelId)) {
    const [prior] = await db.select().from(priorModels).where(eq(priorModels.id, item.modelId));
    if (!prior) throw new Error(`work item ${item.id} names no prior`);
    cache.priors.set(prior.id, prior);
  }
  const round = cache.rounds.get(item.roundId) as Row<typeof rounds>;
  const campaign = cache.campaigns.get(round.campaignId) as Row<typeof campaigns>;
  return {
    round,
    campaign,
    dataset: cache.datasets.get(campaign.datasetId) as Row<typeof datasets>,
    shard: cache.shards.get(shardId) as Row<typeof shards>,
    prior: cache.priors.get(item.modelId) as Row<typeof priorModels>,
  };
}

/** What a fresh lease's assignment is made of: the claim's own result and the item's fixed rows. */
export async function grantContext(database: Database, grant: LeaseGrant): Promise<AssignmentSource> {
  const fixed = await fixedRowsOf(database, { id: grant.workItemId, ...grant.item });
  return {
    lease: { id: grant.leaseId, expiresAt: grant.expiresAt },
    item: { phase: grant.item.phase },
    ...fixed,
    ...uploadShape(grant.item.phase, fixed.prior, fixed.campaign, fixed.shard),
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
