import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { and, eq } from 'drizzle-orm';
import { createApp } from '../app.ts';
import { createCampaign, listCampaigns } from '../campaigns/create-campaign.ts';
import { ProgressBar } from '../cli/progress-bar.ts';
import { importKnownSource } from '../datasets/import-request.ts';
import { isAvailable, knownSources } from '../datasets/known-sources.ts';
import { rounds, trainingRuns } from '../db/schema.ts';
import { EnvError, loadEnv, parseEnv, resolveUserPath } from '../env.ts';
import { listPriors } from '../priors/prior-views.ts';
import { readZooManifest, registerZoo } from '../priors/prior-zoo.ts';
import { buildRoundReport, REPORT_PLOTS } from '../reports/round-report.ts';
import { openRuntime } from '../runtime.ts';
import { queueTrainingRun } from '../training/queue-training-run.ts';
import { runTrainingRun } from '../training/training-run.ts';
import { TRAINING_KINDS, type TrainingRunRequest } from '../training/training-run-config.ts';
import { NodeVolunteer, workUntilIdle } from '../volunteers/node-volunteer.ts';

const USAGE = `usage: pnpm reproduce [--images N] [--epochs E] [--architecture convnet|resnet] [--volunteers V] [--out DIR]

Reproduces the paper's comparison on Fashion-MNIST with the zoo priors: imports the train split
(the committed test split where Debian's dataset-fashion-mnist is not installed), runs a campaign
through the HTTP API with Node volunteers (TF.js, wasm), trains a student of every kind on the
finished round with the same images and epochs, and writes the research report to DIR.
It resumes where it stopped: finished steps are kept in DIR/data.

  --images N        training images per student, a seeded subset of the round (default 10000)
  --epochs E        epochs per student (default 10)
  --architecture A  student architecture (default convnet)
  --probe-images P  labelled images for the linear probe (default 5000)
  --volunteers V    Node volunteers taking work in turn (default 2)
  --out DIR         where the data and the report go (default reproduction/fashion-mnist)`;

const CAMPAIGN = 'fashion-mnist-reproduction';

async function main() {
  const { values } = parseArgs({
    options: {
      images: { type: 'string', default: '10000' },
      epochs: { type: 'string', default: '10' },
      architecture: { type: 'string', default: 'convnet' },
      'probe-images': { type: 'string', default: '5000' },
      volunteers: { type: 'string', default: '2' },
      out: { type: 'string', default: 'reproduction/fashion-mnist' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const base = loadEnv();
  const out = resolveUserPath(base, values.out);
  // Its own embedded database and blobs under DIR/data, unless DATABASE_URL says otherwise.
  const env = parseEnv({ ...process.env, COOPT_DATA_DIR: process.env.COOPT_DATA_DIR ?? path.join(out, 'data') });
  const runtime = await openRuntime(env);
  const request: TrainingRunRequest = {
    kind: 'coopt',
    architecture: values.architecture === 'resnet' ? 'resnet' : 'convnet',
    epochs: Number(values.epochs),
    loss: 'mse',
    augment: false,
    seed: 0,
    images: Number(values.images),
    probeImages: Number(values['probe-images']),
  };

  // 1. Data and priors.
  const source =
    knownSources.find((s) => s.id === 'fashion-mnist-train' && isAvailable(s)) ??
    (knownSources.find((s) => s.id === 'fashion-mnist-test') as (typeof knownSources)[number]);
  const bar = new ProgressBar(`import ${source.id}`);
  const { dataset } = await importKnownSource(runtime, source, (p) => bar.update(p.done, p.total));
  bar.finish(`dataset ${dataset.name}: ${dataset.count} images`);
  await registerZoo(runtime, {
    maxModelBytes: env.COOPT_MAX_MODEL_BYTES,
    onPrior: (name, created) => created && console.log(`prior ${name}: converted and verified against onnxruntime`),
  });
  const zoo = new Set(readZooManifest().map((z) => z.name));
  const priorIds = (await listPriors(runtime.database)).filter((p) => zoo.has(p.name)).map((p) => p.id);

  // 2. The campaign, worked by Node volunteers over the HTTP API.
  let campaign = (await listCampaigns(runtime.database)).find((c) => c.name === CAMPAIGN);
  campaign ??= await createCampaign(runtime, {
    name: CAMPAIGN,
    datasetId: dataset.id,
    priorIds,
    shardSize: 2000,
    sharedSetSize: 1000,
    targetDim: 64,
    seed: 1,
    verification: { kind: 'none' },
  });
  const campaignId = campaign.id;
  const app = createApp(runtime, {});
  const volunteers = await Promise.all(
    Array.from({ length: Number(values.volunteers) }, () => NodeVolunteer.register(app)),
  );
  const work = new ProgressBar('campaign');
  await workUntilIdle(volunteers, Number.POSITIVE_INFINITY, async (a) => {
    const stats = (await (await app.request(`/api/campaigns/${campaignId}/stats`)).json()) as {
      coverage: { targeted: number; shards: number };
    };
    work.update(
      stats.coverage.targeted,
      stats.coverage.shards,
      `shards targeted (last: ${a.phase} with ${a.prior.name})`,
    );
  });
  const [round] = await runtime.database.db
    .select()
    .from(rounds)
    .where(and(eq(rounds.campaignId, campaignId), eq(rounds.number, 1)));
  if (round?.status !== 'complete') throw new Error(`round 1 of ${CAMPAIGN} is ${round?.status}, not complete`);
  work.finish('round 1 complete: every shard has verified targets');

  // 3. One run of every kind with the same images and epochs; the round's own queued run becomes the CoOpt one.
  const existing = await runtime.database.db.select().from(trainingRuns).where(eq(trainingRuns.roundId, round.id));
  const kinds = TRAINING_KINDS;
  for (const kind of kinds) {
    const wanted = { ...request, kind };
    const same = existing.find((r) => {
      const c = r.config as Record<string, unknown>;
      return (
        c.kind === kind &&
        c.epochs === wanted.epochs &&
        c.images === wanted.images &&
        c.architecture === wanted.architecture
      );
    });
    let runId = same?.id;
    if (runId === undefined) {
      const auto =
        kind === 'coopt'
          ? existing.find((r) => (r.config as { reason?: string }).reason === 'round-complete')
          : undefined;
      if (auto && auto.status !== 'done') {
        await runtime.database.db
          .update(trainingRuns)
          .set({ config: { ...wanted, reason: 'reproduction' }, status: 'queued' })
          .where(eq(trainingRuns.id, auto.id));
        runId = auto.id;
      } else runId = (await queueTrainingRun(runtime.database, campaignId, 1, wanted)).id;
    }
    const [run] = await runtime.database.db.select().from(trainingRuns).where(eq(trainingRuns.id, runId));
    if (run?.status === 'done') {
      console.log(`${kind}: done earlier (run ${runId})`);
      continue;
    }
    const started = Date.now();
    const timer = setInterval(async () => {
      const [r] = await runtime.database.db.select().from(trainingRuns).where(eq(trainingRuns.id, runId));
      const m = (r?.metrics ?? {}) as { stage?: string; progress?: { epoch: number; batch: number; batches: number } };
      const p = m.progress
        ? ` epoch ${m.progress.epoch}/${request.epochs} batch ${m.progress.batch}/${m.progress.batches}`
        : '';
      process.stderr.write(`${kind}: ${m.stage ?? 'starting'}${p} (${Math.round((Date.now() - started) / 1000)} s)\n`);
    }, 30_000);
    try {
      await runTrainingRun(runtime, runId, { epochs: request.epochs ?? 10, backend: env.COOPT_TRAIN_BACKEND });
    } finally {
      clearInterval(timer);
    }
    const [doneRun] = await runtime.database.db.select().from(trainingRuns).where(eq(trainingRuns.id, runId));
    const m = doneRun?.metrics as { probe?: { mean: number; std: number } | null; seconds?: number };
    console.log(
      `${kind}: ${m.probe ? `probe ${(m.probe.mean * 100).toFixed(1)} ± ${(m.probe.std * 100).toFixed(1)}%` : 'done'}${m.seconds ? ` after ${m.seconds.toFixed(0)} s of training` : ''}`,
    );
  }

  // 4. The report.
  const report = await buildRoundReport(runtime.database, campaignId, 1);
  fs.mkdirSync(path.join(out, 'report'), { recursive: true });
  fs.writeFileSync(path.join(out, 'report.md'), report.markdown);
  for (const plot of REPORT_PLOTS) fs.writeFileSync(path.join(out, 'report', plot), report.plots[plot]);
  fs.writeFileSync(path.join(out, 'summary.json'), `${JSON.stringify(report.summary, null, 2)}\n`);
  console.log(`\n${report.markdown}\nwritten to ${path.join(out, 'report.md')}`);
  await runtime.close();
}

main().catch((err) => {
  console.error(err instanceof EnvError ? err.message : err);
  process.exit(1);
});
