import type { WorkAssignment } from '@coopt/shared';
import { defaultAlignmentTask } from '@coopt/shared/math';
import { eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { campaigns, datasets, leases, priorModels, rounds, shards, workItems } from '../db/schema.ts';
import { priorInputMeta } from '../priors/prior-views.ts';

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
  // Scoring uploads the prior's raw features; aligning uploads the map T_k and its bias as
  // featureDim + 1 rows of n; targeting uploads n-dimensional targets for the shard.
  const rowDim = row.item.phase === 'score' ? (row.prior.featureDim ?? 0) : row.campaign.targetDim;
  const rowCount = row.item.phase === 'align' ? (row.prior.featureDim ?? 0) + 1 : row.shard.sampleCount;
  return { ...row, rowDim, rowCount };
}

/** A campaign's alignment split and ridge strength: from its seed, so they stay the same across rounds. */
export const alignmentTaskOf = (campaign: { seed: number }) => defaultAlignmentTask(campaign.seed);

export type LeaseContext = NonNullable<Awaited<ReturnType<typeof leaseContext>>>;

export function toAssignment(ctx: LeaseContext, heartbeatSeconds: number): WorkAssignment {
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
