import { eq } from 'drizzle-orm';
import PgBoss from 'pg-boss';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { trainingRuns } from '../db/schema.ts';
import { runTrainingRun, type TrainingRunDefaults } from './training-run.ts';

const QUEUE = 'train-student';
/** A running run that has written no progress for this long is taken to have lost its worker. */
const STALE_MS = 15 * 60_000;

export interface TrainingQueue {
  /** Sends every queued training run that has no job yet to the queue. */
  enqueuePending(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The student-training queue on pg-boss, in the same database as everything else (PGlite through
 * its SQL adapter, or the Postgres server). Jobs are rows, so they survive restarts; a run is sent
 * once (its job id is kept in its config). With `work`, this process also takes jobs, one at a time.
 */
export async function startTrainingQueue(
  deps: { database: Database; blobs: BlobStore },
  options: TrainingRunDefaults & { work: boolean; pollSeconds?: number; staleMs?: number },
): Promise<TrainingQueue> {
  const { target, executeSql } = deps.database;
  const boss =
    target.kind === 'postgres'
      ? new PgBoss({ connectionString: target.url, max: 4 })
      : new PgBoss({
          db: {
            executeSql: (text: string, values?: unknown[]) => {
              if (!executeSql) throw new Error('this database gives no SQL adapter');
              return executeSql(text, values);
            },
          },
        });
  boss.on('error', (err) => console.error('[coopt] job queue:', err.message));
  // Several processes starting at once on a fresh database race to create the queue's schema;
  // the losers try again once the winner is done.
  for (let attempt = 1; ; attempt++) {
    try {
      await boss.start();
      await boss.createQueue(QUEUE);
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
      await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300 * attempt));
    }
  }

  // A run whose process died stays 'running' with no more progress written; after STALE_MS it is
  // queued again (its old job cancelled), so a crash costs the run's progress, not the run.
  const requeueStale = async () => {
    const running = await deps.database.db.select().from(trainingRuns).where(eq(trainingRuns.status, 'running'));
    for (const run of running) {
      const updatedAt = Number((run.metrics as { updatedAt?: number } | null)?.updatedAt ?? 0);
      if (Date.now() - updatedAt < (options.staleMs ?? STALE_MS)) continue;
      const { jobId, ...config } = (run.config ?? {}) as Record<string, unknown>;
      if (typeof jobId === 'string') await boss.cancel(QUEUE, jobId).catch(() => undefined);
      await deps.database.db.update(trainingRuns).set({ status: 'queued', config }).where(eq(trainingRuns.id, run.id));
    }
  };

  const enqueuePending = async () => {
    await requeueStale();
    const queued = await deps.database.db.select().from(trainingRuns).where(eq(trainingRuns.status, 'queued'));
    let sent = 0;
    for (const run of queued) {
      const config = (run.config ?? {}) as Record<string, unknown>;
      if (config.jobId) continue;
      const jobId = await boss.send(QUEUE, { runId: run.id }, { retryLimit: 1, expireInHours: 23 });
      await deps.database.db
        .update(trainingRuns)
        .set({ config: { ...config, jobId } })
        .where(eq(trainingRuns.id, run.id));
      sent++;
    }
    return sent;
  };

  if (options.work) {
    await boss.work<{ runId: number }>(QUEUE, { pollingIntervalSeconds: options.pollSeconds ?? 2 }, async ([job]) => {
      if (job) await runTrainingRun(deps, job.data.runId, options);
    });
  }
  await enqueuePending();
  const timer = setInterval(
    () => {
      enqueuePending().catch((err) => console.error('[coopt] enqueue training runs:', err));
    },
    (options.pollSeconds ?? 2) * 1000,
  );
  timer.unref();

  return {
    enqueuePending,
    stop: async () => {
      clearInterval(timer);
      await boss.stop({ graceful: false, wait: true });
    },
  };
}
