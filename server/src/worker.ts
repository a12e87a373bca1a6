import { EnvError, loadEnv } from './env.ts';
import { openRuntime } from './runtime.ts';
import { startTrainingQueue } from './training/training-queue.ts';

/** `pnpm worker`: takes student-training jobs from the queue in the configured database until stopped. */
async function main() {
  const env = loadEnv();
  const runtime = await openRuntime(env);
  const queue = await startTrainingQueue(runtime, {
    work: true,
    epochs: env.COOPT_TRAIN_EPOCHS,
    backend: env.COOPT_TRAIN_BACKEND,
  });
  console.log(`CoOpt worker: training students (database: ${runtime.database.kind})`);
  const stop = () => {
    queue
      .stop()
      .then(() => runtime.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof EnvError ? err.message : err);
  process.exit(1);
});
