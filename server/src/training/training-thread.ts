import { parentPort } from 'node:worker_threads';
import { probeAccuracy, probeAllSeeds } from './linear-probe.ts';
import { exportStudent, type StudentFiles, type StudentInput } from './student-export.ts';
import type { Student } from './student-models.ts';
import {
  type EpochReport,
  encodeAll,
  type TrainerOptions,
  type TrainingData,
  trainStudent,
} from './student-trainer.ts';
import { type TrainingBackend, useTrainingBackend } from './training-backend.ts';

/** Labelled images the encoder is probed on, after every epoch (first seed) and at the end (every seed). */
export interface ProbeImages {
  pixels: Uint8Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  classes: number;
  seeds: number[];
}

export interface ThreadJob {
  backend: TrainingBackend;
  data: TrainingData;
  options: Omit<TrainerOptions, 'onEpoch' | 'onBatch'>;
  probe: ProbeImages | null;
  student: StudentInput;
}

export interface EpochPoint extends EpochReport {
  /** Linear-probe accuracy (first probe seed) of the encoder after this epoch. */
  probeAccuracy?: number;
}

export type ThreadMessage =
  | { type: 'batch'; epoch: number; batch: number; batches: number }
  | { type: 'epoch'; point: EpochPoint }
  | {
      type: 'done';
      probe: { accuracies: number[]; mean: number; std: number; images: number } | null;
      files: StudentFiles;
    }
  | { type: 'error'; message: string };

/**
 * One student's training, probing and export: what `train-in-thread.ts` runs in a worker thread, so
 * the process's own thread (the API, with the embedded database) never waits on a training step.
 */
export async function runThreadJob(job: ThreadJob, post: (m: ThreadMessage) => void): Promise<void> {
  await useTrainingBackend(job.backend);
  const norm = { mean: job.options.mean ?? 0.5, std: job.options.std ?? 0.25 };
  const features = (s: Student) => (job.probe ? encodeAll(s, job.probe.pixels, job.probe.shape, norm) : null);
  let lastBatch = 0;
  const { student } = await trainStudent(job.data, {
    ...job.options,
    onBatch: (p) => {
      if (performance.now() - lastBatch < 1000) return;
      lastBatch = performance.now();
      post({ type: 'batch', ...p });
    },
    onEpoch: async (e, s) => {
      const point: EpochPoint = { ...e };
      const f = await features(s);
      if (f && job.probe)
        point.probeAccuracy = await probeAccuracy(
          f,
          s.featureDim,
          job.probe.labels,
          job.probe.classes,
          job.probe.seeds[0] as number,
        );
      post({ type: 'epoch', point });
    },
  });
  let probe: Extract<ThreadMessage, { type: 'done' }>['probe'] = null;
  const f = await features(student);
  if (f && job.probe)
    probe = await probeAllSeeds(f, student.featureDim, job.probe.labels, job.probe.classes, job.probe.seeds);
  const files = await exportStudent(student, job.student);
  student.dispose();
  post({ type: 'done', probe, files });
}

parentPort?.once('message', (job: ThreadJob) => {
  runThreadJob(job, (m) => parentPort?.postMessage(m)).catch((err: unknown) => {
    parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  });
});
