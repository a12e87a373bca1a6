import { ErrorCode, type VerificationPolicy } from '@coopt/shared';
import { and, eq, inArray } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { campaignModels, campaigns, priorModels, priorScores, rounds, shards, workItems } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import { latestRound, SHARED_SET_INDEX, scoreItems } from './create-campaign.ts';

/**
 * CoOpt step 9, continuous rounds: adding priors (or a better checkpoint registered as a new prior)
 * opens the next round, which scores the new priors on the shared set (earlier scores carry over),
 * re-picks the best, re-aligns and re-targets where the targets change. The previous round must be
 * complete; its export stays downloadable.
 */
export async function openNextRound(
  database: Database,
  campaignId: number,
  addPriorIds: number[],
): Promise<{ round: number; priors: number }> {
  const { db } = database;
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, campaignId));
  if (!campaign) throw AppError.notFound(`no campaign with id ${campaignId}`);
  const last = await latestRound(database, campaignId);
  if (last && last.status !== 'complete') {
    throw new AppError(
      409,
      ErrorCode.Conflict,
      `round ${last.number} is still ${last.status}; a new round opens once it is complete`,
    );
  }
  const existing = (await db.select().from(campaignModels).where(eq(campaignModels.campaignId, campaignId))).map(
    (m) => m.modelId,
  );
  const wanted = [...new Set(addPriorIds)].filter((id) => !existing.includes(id));
  if (wanted.length === 0) {
    throw new AppError(
      422,
      ErrorCode.BadRequest,
      'a new round needs a prior the campaign does not have yet (a better checkpoint is registered as a new prior)',
    );
  }
  const ready = await db
    .select({ id: priorModels.id })
    .from(priorModels)
    .where(and(inArray(priorModels.id, wanted), eq(priorModels.status, 'ready')));
  const missing = wanted.filter((id) => !ready.some((r) => r.id === id));
  if (missing.length > 0) throw AppError.notFound(`no ready prior with id ${missing.join(', ')}`);
  const [shared] = await db
    .select()
    .from(shards)
    .where(and(eq(shards.campaignId, campaignId), eq(shards.index, SHARED_SET_INDEX)));
  if (!shared) throw new Error(`campaign ${campaignId} has no shared set`);
  const policy = campaign.verificationPolicy as VerificationPolicy;

  return db.transaction(async (tx) => {
    await tx
      .insert(campaignModels)
      .values(wanted.map((modelId) => ({ campaignId, modelId })))
      .onConflictDoNothing();
    const number = (last?.number ?? 0) + 1;
    const [round] = await tx.insert(rounds).values({ campaignId, number, status: 'scoring' }).returning();
    if (!round) throw new Error('round insert returned no row');
    // The shared set and the earlier priors are unchanged, so are their features and scores:
    // only the new priors are scored.
    if (last) {
      const kept = await tx.select().from(priorScores).where(eq(priorScores.roundId, last.id));
      if (kept.length > 0) {
        await tx.insert(priorScores).values(
          kept.map((k) => ({
            roundId: round.id,
            modelId: k.modelId,
            uniformity: k.uniformity,
            featuresBlobKey: k.featuresBlobKey,
          })),
        );
      }
    }
    await tx.insert(workItems).values(scoreItems(round.id, shared.id, wanted, policy));
    await tx.update(campaigns).set({ status: 'running' }).where(eq(campaigns.id, campaignId));
    return { round: number, priors: existing.length + wanted.length };
  });
}
