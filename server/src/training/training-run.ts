import { SeededRandom } from '@coopt/shared/math';
import { and, eq } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import { readLabels } from '../datasets/dataset-labels.ts';
import { readSamplesByIds } from '../datasets/dataset-samples.ts';
import type { Database } from '../db/database.ts';
import { campaigns, datasets, roundExports, rounds, trainingRuns } from '../db/schema.ts';
import { readSafetensors } from '../export/safetensors-reader.ts';
import { initTfjs, tf } from '../priors/tfjs-runtime.ts';
import { linearProbe, meanStd } from './linear-probe.ts';
import type { EpochReport } from './student-trainer.ts';
import { encodeAll, trainStudent } from './student-trainer.ts';

type Deps = { database: Database; blobs: BlobStore };

export interface TrainingRunOptions {
  epochs: number;
  /** Labelled images the linear probe uses (split 80/20 into its train and test parts). */
  probeImages?: number;
}

const NORM = { mean: 0.286, std: 0.353 };
const PROBE_SEEDS = [0, 1, 2];

/** The targets and sample ids of a completed round, from its safetensors export. */
async function roundTargets(deps: Deps, roundId: number) {
  const [exp] = await deps.database.db
    .select()
    .from(roundExports)
    .where(and(eq(roundExports.roundId, roundId), eq(roundExports.format, 'safetensors')));
  if (!exp) throw new Error(`round ${roundId} has no export`);
  const { at } = readSafetensors(await deps.blobs.get(exp.blobKey));
  const t = at('targets');
  return {
    targets: new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4),
    dim: t.shape[1] as number,
    ids: Int32Array.from(new BigInt64Array(at('sample_ids').bytes.buffer), Number),
  };
}

/**
 * One student-training job (CoOpt step 8): a ConvNet regressed onto a completed round's targets on
 * the wasm backend, its per-epoch loss written to the run as it goes, then a linear probe on the
 * dataset's labels (3 seeds) when it has any.
 */
export async function runTrainingRun(deps: Deps, runId: number, options: TrainingRunOptions): Promise<void> {
  const { db } = deps.database;
  const [row] = await db
    .select({ run: trainingRuns, round: rounds, dataset: datasets })
    .from(trainingRuns)
    .innerJoin(rounds, eq(rounds.id, trainingRuns.roundId))
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .innerJoin(datasets, eq(datasets.id, campaigns.datasetId))
    .where(eq(trainingRuns.id, runId));
  if (!row) throw new Error(`no training run ${runId}`);
  if (row.run.status === 'done') return;
  const history: EpochReport[] = [];
  const save = (status: string, extra: Record<string, unknown> = {}) =>
    db
      .update(trainingRuns)
      .set({ status, metrics: { history, ...extra } })
      .where(eq(trainingRuns.id, runId));
  try {
    await save('running');
    await initTfjs();
    await tf.setBackend('wasm');
    const { targets, dim, ids } = await roundTargets(deps, row.round.id);
    const d = row.dataset;
    const pixels = await readSamplesByIds(deps, d, ids);
    const { student } = await trainStudent(
      { pixels, shape: [ids.length, d.height, d.width, d.channels], targets, targetDim: dim },
      {
        architecture: 'convnet',
        epochs: options.epochs,
        mean: NORM.mean,
        std: NORM.std,
        onEpoch: async (e) => {
          history.push(e);
          await save('running');
        },
      },
    );
    let probe: Record<string, unknown> | null = null;
    const labels = await readLabels(deps, d);
    if (labels) {
      const count = Math.min(d.count, options.probeImages ?? 5000);
      const order = new SeededRandom(runId).permutation(d.count).subarray(0, count);
      const probePixels = await readSamplesByIds(deps, d, order);
      const features = await encodeAll(student, probePixels, [count, d.height, d.width, d.channels], NORM);
      const cut = Math.floor(count * 0.8);
      const f = student.featureDim;
      const part = (from: number, to: number) => ({
        features: features.subarray(from * f, to * f),
        labels: Int32Array.from(order.subarray(from, to), (i) => labels[i] as number),
        dim: f,
      });
      const classes = Math.max(...labels) + 1;
      const accuracies: number[] = [];
      for (const seed of PROBE_SEEDS)
        accuracies.push((await linearProbe(part(0, cut), part(cut, count), { classes, seed })).accuracy);
      probe = { accuracies, ...meanStd(accuracies), images: count };
    }
    student.dispose();
    await save('done', { probe });
  } catch (err) {
    await save('failed', { error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}
