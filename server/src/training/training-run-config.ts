import { z } from 'zod';

/**
 * What a training run trains and how. Every kind goes through the same trainer and probe with the
 * same images, epochs and batch size, so the comparison is the paper's:
 * - `coopt`: regression onto the round's merged targets;
 * - `no-align`, `worst-prior`: the alignment ablations (targets without T_k, or aligned to the least uniform prior);
 * - `simclr`: SimCLR, the self-supervised baseline;
 * - `supervised`: cross entropy on the labels, the upper bound;
 * - `random`: the randomly initialised encoder, no training;
 * - `priors`: no student; each prior's own features are probed, for uniformity against accuracy.
 */
export const TRAINING_KINDS = ['coopt', 'no-align', 'worst-prior', 'simclr', 'supervised', 'random', 'priors'] as const;
export type TrainingKind = (typeof TRAINING_KINDS)[number];

export const trainingRunRequest = z
  .object({
    kind: z.enum(TRAINING_KINDS).default('coopt'),
    architecture: z.enum(['convnet', 'resnet']).default('convnet'),
    /** Defaults to the server's COOPT_TRAIN_EPOCHS. */
    epochs: z.number().int().min(1).max(1000).optional(),
    loss: z.enum(['mse', 'cosine']).default('mse'),
    augment: z.boolean().default(false),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31)
      .default(0),
    /** Train on a seeded subset of the round's images, the same for every kind; all of them by default. */
    images: z.number().int().min(16).optional(),
    /** Labelled images for the linear probe (split 80/20 per probe seed). */
    probeImages: z.number().int().min(20).max(100_000).default(5000),
  })
  .strict();

export type TrainingRunRequest = z.infer<typeof trainingRunRequest>;

/** A stored run's config: the request's fields with defaults filled in, and how it was queued. */
export function readRunConfig(config: unknown): TrainingRunRequest & { jobId?: string } {
  const raw = (config ?? {}) as Record<string, unknown>;
  const { jobId, reason: _reason, round: _round, ...request } = raw;
  return { ...trainingRunRequest.parse(request), ...(typeof jobId === 'string' ? { jobId } : {}) };
}
