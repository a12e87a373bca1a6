import { ErrorCode } from '@coopt/shared';
import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { campaigns, labelRanges, rounds, trainingRuns } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import type { TrainingRunRequest } from './training-run-config.ts';

/**
 * An admin's request for a training run on a completed round: stored as a queued run, which the
 * training queue sends to a worker within its polling interval.
 */
export async function queueTrainingRun(
  database: Database,
  campaignId: number,
  roundNumber: number,
  request: TrainingRunRequest,
) {
  const { db } = database;
  const [row] = await db
    .select({ round: rounds, datasetId: campaigns.datasetId })
    .from(rounds)
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .where(and(eq(rounds.campaignId, campaignId), eq(rounds.number, roundNumber)));
  if (!row) throw AppError.notFound(`campaign ${campaignId} has no round ${roundNumber}`);
  if (row.round.status !== 'complete')
    throw new AppError(
      409,
      ErrorCode.Conflict,
      `round ${roundNumber} of campaign ${campaignId} is ${row.round.status}; students train on complete rounds`,
    );
  // These kinds are nothing but an evaluation on the labels (or training on them).
  if (request.kind === 'supervised' || request.kind === 'priors' || request.kind === 'random') {
    const [labelled] = await db
      .select({ start: labelRanges.start })
      .from(labelRanges)
      .where(eq(labelRanges.datasetId, row.datasetId))
      .limit(1);
    if (!labelled)
      throw new AppError(
        422,
        ErrorCode.BadRequest,
        `a ${request.kind} run needs labels, and campaign ${campaignId}'s dataset has none`,
      );
  }
  const [run] = await db
    .insert(trainingRuns)
    .values({ roundId: row.round.id, status: 'queued', config: { ...request, reason: 'admin' } })
    .returning();
  if (!run) throw new Error('the training run was not stored');
  return { id: run.id, status: run.status, config: request };
}
