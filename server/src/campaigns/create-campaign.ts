import type { CampaignSummary, CreateCampaign, VerificationPolicy } from '@coopt/shared';
import { asc, count, desc, eq, inArray } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import { getDataset } from '../datasets/dataset-views.ts';
import type { Database } from '../db/database.ts';
import { campaignModels, campaigns, priorModels, rounds, shards, workItems } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import { splitCampaign } from './campaign-split.ts';

/** The shared set is stored as the shard with this index. */
export const SHARED_SET_INDEX = -1;

export class CampaignExistsError extends Error {
  constructor(readonly campaignName: string) {
    super(`a campaign named "${campaignName}" already exists`);
  }
}

type CampaignRow = typeof campaigns.$inferSelect;

/** Phase 1 of a round: every prior computes its features on the shared set, as often as the policy asks. */
export function scoreItems(roundId: number, sharedShardId: number, priorIds: number[], policy: VerificationPolicy) {
  return priorIds.map((modelId) => ({
    roundId,
    phase: 'score' as const,
    shardId: sharedShardId,
    modelId,
    replicasWanted: replicasOf(policy),
  }));
}

/** How many independent results each work item needs before it is done. */
export function replicasOf(policy: VerificationPolicy): number {
  return policy.kind === 'replication' ? policy.replicas : 1;
}

/**
 * Creates a campaign: checks the dataset and priors, splits the samples by the seed, stores each
 * shard's sample ids as a blob, and registers campaign, priors, shards and round 1 in one transaction.
 */
export async function createCampaign(
  deps: { database: Database; blobs: BlobStore },
  req: CreateCampaign,
): Promise<CampaignSummary> {
  const { db } = deps.database;
  const dataset = await getDataset(deps.database, req.datasetId);
  if (!dataset) throw AppError.notFound(`no dataset with id ${req.datasetId}`);
  const priorIds = [...new Set(req.priorIds)];
  const found = await db
    .select({ id: priorModels.id, status: priorModels.status })
    .from(priorModels)
    .where(inArray(priorModels.id, priorIds));
  const ready = new Set(found.filter((p) => p.status === 'ready').map((p) => p.id));
  const missing = priorIds.filter((id) => !ready.has(id));
  if (missing.length > 0) throw AppError.notFound(`no ready prior with id ${missing.join(', ')}`);
  if (req.sharedSetSize >= dataset.count) {
    throw AppError.badRequest(
      `a shared set of ${req.sharedSetSize} leaves nothing of the dataset's ${dataset.count} images to shard`,
    );
  }
  const [taken] = await db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.name, req.name)).limit(1);
  if (taken) throw new CampaignExistsError(req.name);

  const split = splitCampaign(dataset.count, req.sharedSetSize, req.shardSize, req.seed);
  const idBlob = async (ids: Int32Array) =>
    (await deps.blobs.put(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength))).key;
  const sharedKey = await idBlob(split.shared);
  const shardKeys: string[] = [];
  for (const shard of split.shards) shardKeys.push(await idBlob(shard));

  try {
    const row = await db.transaction(async (tx) => {
      const [c] = await tx
        .insert(campaigns)
        .values({
          name: req.name,
          datasetId: dataset.id,
          shardSize: req.shardSize,
          sharedSetSize: req.sharedSetSize,
          targetDim: req.targetDim,
          seed: req.seed,
          verificationPolicy: req.verification,
          status: 'running',
        })
        .returning();
      if (!c) throw new Error('campaign insert returned no row');
      await tx.insert(campaignModels).values(priorIds.map((modelId) => ({ campaignId: c.id, modelId })));
      const rows = [
        { campaignId: c.id, index: SHARED_SET_INDEX, sampleCount: split.shared.length, sampleIdsBlobKey: sharedKey },
        ...split.shards.map((s, i) => ({
          campaignId: c.id,
          index: i,
          sampleCount: s.length,
          sampleIdsBlobKey: shardKeys[i] as string,
        })),
      ];
      const inserted: { id: number; index: number }[] = [];
      for (let i = 0; i < rows.length; i += 1000) {
        inserted.push(
          ...(await tx
            .insert(shards)
            .values(rows.slice(i, i + 1000))
            .returning({ id: shards.id, index: shards.index })),
        );
      }
      const [round] = await tx.insert(rounds).values({ campaignId: c.id, number: 1, status: 'scoring' }).returning();
      const sharedShard = inserted.find((r) => r.index === SHARED_SET_INDEX);
      if (!round || !sharedShard) throw new Error('round or shared set missing');
      await tx.insert(workItems).values(scoreItems(round.id, sharedShard.id, priorIds, req.verification));
      return c;
    });
    return toCampaignSummary(row, priorIds, split.shards.length);
  } catch (err) {
    if (String((err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code) === '23505') {
      throw new CampaignExistsError(req.name);
    }
    throw err;
  }
}

export function toCampaignSummary(row: CampaignRow, priorIds: number[], shardCount: number): CampaignSummary {
  return {
    id: row.id,
    name: row.name,
    datasetId: row.datasetId,
    priorIds,
    shardSize: row.shardSize,
    sharedSetSize: row.sharedSetSize,
    targetDim: row.targetDim,
    seed: row.seed,
    shards: shardCount,
    status: row.status,
    verification: row.verificationPolicy as VerificationPolicy,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Every campaign, or only the one with `onlyId`. */
export async function listCampaigns(database: Database, onlyId?: number): Promise<CampaignSummary[]> {
  const { db } = database;
  const rows = await db
    .select()
    .from(campaigns)
    .where(onlyId === undefined ? undefined : eq(campaigns.id, onlyId))
    .orderBy(asc(campaigns.id));
  const models = await db
    .select()
    .from(campaignModels)
    .where(onlyId === undefined ? undefined : eq(campaignModels.campaignId, onlyId));
  const counts = await db
    .select({ campaignId: shards.campaignId, n: count() })
    .from(shards)
    .where(onlyId === undefined ? undefined : eq(shards.campaignId, onlyId))
    .groupBy(shards.campaignId);
  return rows.map((r) =>
    toCampaignSummary(
      r,
      models.filter((m) => m.campaignId === r.id).map((m) => m.modelId),
      // The shared set is stored as a shard too; it is not one of the work shards.
      Math.max(0, Number(counts.find((c) => c.campaignId === r.id)?.n ?? 1) - 1),
    ),
  );
}

/** A campaign's newest round, or null before its first. */
export async function latestRound(database: Database, campaignId: number) {
  const [round] = await database.db
    .select()
    .from(rounds)
    .where(eq(rounds.campaignId, campaignId))
    .orderBy(desc(rounds.number))
    .limit(1);
  return round ?? null;
}
