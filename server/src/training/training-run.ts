import { SeededRandom } from '@coopt/shared/math';
import { eq, inArray } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import { readLabels } from '../datasets/dataset-labels.ts';
import { readSamplesByIds } from '../datasets/dataset-samples.ts';
import type { Database } from '../db/database.ts';
import { campaigns, datasets, priorModels, priorScores, rounds, trainingRuns } from '../db/schema.ts';
import { tf } from '../priors/tfjs-runtime.ts';
import { ablationTargets } from './ablation-targets.ts';
import { probeAllSeeds } from './linear-probe.ts';
import { priorOutputs } from './prior-features.ts';
import { readRoundTargets } from './round-targets.ts';
import type { TrainingObjective } from './student-trainer.ts';
import { trainInThread } from './train-in-thread.ts';
import { type TrainingBackend, useTrainingBackend } from './training-backend.ts';
import { readRunConfig } from './training-run-config.ts';
import type { EpochPoint, ProbeImages } from './training-thread.ts';

type Deps = { database: Database; blobs: BlobStore };
type Dataset = typeof datasets.$inferSelect;

export interface TrainingRunDefaults {
  /** Epochs for runs that do not set their own. */
  epochs: number;
  /** Where students train (default wasm). */
  backend?: TrainingBackend;
}

export const PIXEL_NORM = { mean: 0.286, std: 0.353 };
export const PROBE_SEEDS = [0, 1, 2];

/**
 * The labelled images a campaign's runs are probed on: the same seeded choice for every run, so
 * accuracies compare. Each probe seed cuts them 80/20 differently into the probe's train and test parts.
 */
async function probeSet(deps: Deps, dataset: Dataset, campaignSeed: number, images: number) {
  const labels = await readLabels(deps, dataset);
  if (!labels) return null;
  const count = Math.min(dataset.count, images);
  const ids = new SeededRandom(campaignSeed + 7919).permutation(dataset.count).subarray(0, count);
  const probe: ProbeImages = {
    pixels: await readSamplesByIds(deps, dataset, ids),
    shape: [count, dataset.height, dataset.width, dataset.channels],
    labels: Int32Array.from(ids, (i) => labels[i] as number),
    classes: Math.max(...labels) + 1,
    seeds: PROBE_SEEDS,
  };
  return { ids, allLabels: labels, probe };
}

/**
 * One training job: load the run's config, build what its kind learns from (the round's targets,
 * an ablation's targets, the labels, or only the images), train through the shared trainer with a
 * probe after every epoch, probe the result with 3 seeds, and store the student as TF.js files.
 * Progress and metrics are written to the run as it goes, for the dashboard.
 */
export async function runTrainingRun(deps: Deps, runId: number, defaults: TrainingRunDefaults): Promise<void> {
  const { db } = deps.database;
  const [row] = await db
    .select({ run: trainingRuns, round: rounds, campaign: campaigns, dataset: datasets })
    .from(trainingRuns)
    .innerJoin(rounds, eq(rounds.id, trainingRuns.roundId))
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .innerJoin(datasets, eq(datasets.id, campaigns.datasetId))
    .where(eq(trainingRuns.id, runId));
  if (!row) throw new Error(`no training run ${runId}`);
  if (row.run.status === 'done') return;
  const config = readRunConfig(row.run.config);
  const epochs = config.kind === 'random' ? 0 : (config.epochs ?? defaults.epochs);
  const metrics: Record<string, unknown> = { kind: config.kind, architecture: config.architecture, epochs };
  const history: EpochPoint[] = [];
  const save = (status: string, extra: Record<string, unknown> = {}) =>
    db
      .update(trainingRuns)
      .set({ status, metrics: { ...metrics, history, ...extra, updatedAt: Date.now() } })
      .where(eq(trainingRuns.id, runId));
  const d = row.dataset;
  try {
    await save('running', { stage: 'preparing data' });
    await useTrainingBackend(defaults.backend ?? 'wasm');
    metrics.backend = tf.getBackend();
    const probes = await probeSet(deps, d, row.campaign.seed, config.probeImages);

    if (config.kind === 'priors') {
      if (!probes) throw new Error(`dataset ${d.name} has no labels to probe the priors on`);
      const scores = await db.select().from(priorScores).where(eq(priorScores.roundId, row.round.id));
      const priors = await db
        .select()
        .from(priorModels)
        .where(
          inArray(
            priorModels.id,
            scores.map((s) => s.modelId),
          ),
        );
      const results = [];
      for (const prior of priors) {
        await save('running', { stage: `probing prior ${prior.name}` });
        const { values, dim } = await priorOutputs(deps, prior, d, probes.ids);
        const uniformity = scores.find((s) => s.modelId === prior.id)?.uniformity as number;
        const probe = await probeAllSeeds(values, dim, probes.probe.labels, probes.probe.classes, PROBE_SEEDS);
        results.push({ priorId: prior.id, name: prior.name, uniformity, probe });
      }
      await save('done', { priors: results });
      return;
    }

    const round = await readRoundTargets(deps, row.round.id);
    let rows = Int32Array.from(round.ids.keys());
    if (config.images && config.images < rows.length)
      rows = new SeededRandom(row.campaign.seed + 104729).permutation(rows.length).slice(0, config.images).sort();
    const ids = Int32Array.from(rows, (r) => round.ids[r] as number);
    const pickTargets = (all: Float32Array) => {
      const out = new Float32Array(rows.length * round.dim);
      rows.forEach((r, k) => {
        out.set(all.subarray(r * round.dim, (r + 1) * round.dim), k * round.dim);
      });
      return out;
    };

    let objective: TrainingObjective;
    if (config.kind === 'coopt') {
      objective = { kind: 'regression', targets: pickTargets(round.targets), targetDim: round.dim, loss: config.loss };
    } else if (config.kind === 'no-align' || config.kind === 'worst-prior') {
      await save('running', { stage: `computing ${config.kind} targets` });
      const ablated = await ablationTargets(deps, row.round.id, config.kind);
      objective = {
        kind: 'regression',
        targets: pickTargets(ablated.targets),
        targetDim: round.dim,
        loss: config.loss,
      };
    } else if (config.kind === 'supervised') {
      if (!probes) throw new Error(`dataset ${d.name} has no labels for supervised training`);
      objective = {
        kind: 'supervised',
        labels: Int32Array.from(ids, (i) => probes.allLabels[i] as number),
        classes: probes.probe.classes,
      };
    } else {
      objective = { kind: 'contrastive' };
    }

    const pixels = await readSamplesByIds(deps, d, ids);
    metrics.images = ids.length;
    await save('running', { stage: 'training', progress: { epoch: 1, batch: 0, batches: 0 } });
    let lastSaved = 0;
    const { probe, files } = await trainInThread(
      {
        backend: defaults.backend ?? 'wasm',
        data: { pixels, shape: [ids.length, d.height, d.width, d.channels], objective },
        options: {
          architecture: config.architecture,
          epochs,
          augment: config.augment,
          seed: config.seed,
          mean: PIXEL_NORM.mean,
          std: PIXEL_NORM.std,
        },
        probe: probes?.probe ?? null,
        student: { height: d.height, width: d.width, channels: d.channels, ...PIXEL_NORM },
      },
      async (m) => {
        if (m.type === 'epoch') {
          history.push(m.point);
          await save('running', { stage: 'training', progress: { epoch: m.point.epoch, batch: 0, batches: 0 } });
        } else if (performance.now() - lastSaved >= 2000) {
          lastSaved = performance.now();
          await save('running', {
            stage: 'training',
            progress: { epoch: m.epoch, batch: m.batch, batches: m.batches },
          });
        }
      },
    );
    const modelJson = await deps.blobs.put(files.modelJson);
    const weights = await deps.blobs.put(files.weights);
    await save('done', {
      probe,
      seconds: history.at(-1)?.seconds ?? 0,
      model: { modelJson: modelJson.key, weights: weights.key, bytes: files.weights.byteLength },
    });
  } catch (err) {
    await save('failed', { error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}
