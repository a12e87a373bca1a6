import { z } from 'zod';

export const verificationPolicySchema = z.discriminatedUnion('kind', [
  /** Only the structural checks (shape, finite values, ids, checksum). */
  z.object({ kind: z.literal('none') }),
  /** Two (or more) volunteers must agree within tolerance on the same shard and prior. */
  z.object({
    kind: z.literal('replication'),
    replicas: z.number().int().min(2).max(5).default(2),
    tolerance: z.number().positive().max(1).default(1e-3),
  }),
  /** The server recomputes a random sample of rows and compares them. */
  z.object({
    kind: z.literal('spot-check'),
    rate: z.number().positive().max(1).default(0.05),
    tolerance: z.number().positive().max(1).default(1e-3),
  }),
]);
export type VerificationPolicy = z.infer<typeof verificationPolicySchema>;

export const campaignNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit');

/** Body of POST /api/admin/campaigns. */
export const createCampaignSchema = z.object({
  name: campaignNameSchema,
  datasetId: z.number().int().positive(),
  priorIds: z.array(z.number().int().positive()).min(1).max(32),
  shardSize: z.number().int().min(16).max(65_536),
  /** The paper finds 0.05%-1% of the data, at least a few hundred images, enough. */
  sharedSetSize: z.number().int().min(32).max(20_000),
  targetDim: z.number().int().min(2).max(4096),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  verification: verificationPolicySchema.default({ kind: 'replication', replicas: 2, tolerance: 1e-3 }),
});
export type CreateCampaign = z.infer<typeof createCampaignSchema>;

export const campaignSummarySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  datasetId: z.number().int(),
  priorIds: z.array(z.number().int()),
  shardSize: z.number().int(),
  sharedSetSize: z.number().int(),
  targetDim: z.number().int(),
  seed: z.number().int(),
  shards: z.number().int(),
  status: z.string(),
  verification: verificationPolicySchema,
  createdAt: z.string(),
});
export type CampaignSummary = z.infer<typeof campaignSummarySchema>;
