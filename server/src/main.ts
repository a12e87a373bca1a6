import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { DEMO_CAMPAIGN, ensureDemoCampaign } from './campaigns/demo-campaign.ts';
import { ProgressBar } from './cli/progress-bar.ts';
import { importKnownSource } from './datasets/import-request.ts';
import { isAvailable, knownSources } from './datasets/known-sources.ts';
import { EnvError, loadEnv, resolveUserPath } from './env.ts';
import { defaultWebDist } from './paths.ts';
import { registerZoo } from './priors/prior-zoo.ts';
import { openRuntime } from './runtime.ts';
import { startTrainingQueue } from './training/training-queue.ts';
import { expireLeases } from './work/lease-scheduler.ts';

/** A temporary blob file nothing has written to for this long was left by a crash. */
const TEMPORARY_IDLE_MS = 3_600_000;

async function main() {
  const env = loadEnv();
  const runtime = await openRuntime(env);

  if (env.COOPT_DEMO) {
    for (const source of knownSources.filter(isAvailable)) {
      const bar = new ProgressBar(`import ${source.id}`);
      const { dataset, created } = await importKnownSource(runtime, source, (p) => bar.update(p.done, p.total));
      if (created) bar.finish(`done: dataset ${dataset.id}, ${dataset.count} images`);
    }
    await registerZoo(runtime, {
      maxModelBytes: env.COOPT_MAX_MODEL_BYTES,
      onPrior: (name, created) => created && console.log(`prior ${name}: converted and verified against onnxruntime`),
    });
    if ((await ensureDemoCampaign(runtime)) === 'created')
      console.log(`campaign ${DEMO_CAMPAIGN}: ready for volunteers`);
  }

  const app = createApp(runtime, {
    webDist: env.COOPT_WEB_DIST ? resolveUserPath(env, env.COOPT_WEB_DIST) : defaultWebDist,
  });
  const server = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, (info) => {
    const url = `http://${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${info.port}`;
    console.log(`CoOpt is running at ${url}  (database: ${runtime.database.kind}, data: ${runtime.dataDir})`);
    console.log(`  volunteer ${url}/   admin ${url}/admin   researcher ${url}/research`);
    console.log(`  admin token: ${env.COOPT_ADMIN_TOKEN ? '(from COOPT_ADMIN_TOKEN)' : runtime.adminToken}`);
  });

  // Expired leases are also swept on a timer, so abandoned work returns to the pool while other work is still free.
  const sweep = setInterval(() => {
    expireLeases(runtime.database).catch((err) => console.error('[coopt] lease sweep failed:', err));
  }, 10_000);
  sweep.unref();
  // What a crashed process left half-written in the blob store's tmp directory, once idle an hour.
  const sweepTemporaries = () =>
    runtime.blobs
      .sweepTemporaries(TEMPORARY_IDLE_MS)
      .then(({ files, bytes }) => {
        if (files > 0)
          console.log(`[coopt] removed ${files} abandoned temporary blob file(s), ${(bytes / 2 ** 20).toFixed(1)} MiB`);
      })
      .catch((err) => console.error('[coopt] temporary-file sweep failed:', err));
  void sweepTemporaries();
  const tmpSweep = setInterval(sweepTemporaries, TEMPORARY_IDLE_MS);
  tmpSweep.unref();

  // Student training: the queue always runs (completed rounds are sent to it); jobs are taken
  // here unless COOPT_WORKER=0, when separate `pnpm worker` processes take them.
  const queue = await startTrainingQueue(runtime, {
    work: env.COOPT_WORKER,
    epochs: env.COOPT_TRAIN_EPOCHS,
    backend: env.COOPT_TRAIN_BACKEND,
  }).catch((err: unknown) => {
    // The API keeps serving; finished rounds stay queued until a worker starts.
    console.error('[coopt] the training queue did not start:', err);
    return null;
  });

  const stop = () => {
    clearInterval(sweep);
    clearInterval(tmpSweep);
    server.close();
    void queue?.stop();
    runtime.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err instanceof EnvError ? err.message : err);
  process.exit(1);
});
