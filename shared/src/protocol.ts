import { z } from 'zod';

/** What a volunteer's device can run; the scheduler hands out only work it can do. */
export const claimRequestSchema = z.object({
  backends: z
    .array(z.enum(['webgpu', 'webgl', 'wasm', 'cpu']))
    .min(1)
    .max(4),
  /** The largest model download the device accepts, in bytes. */
  maxModelBytes: z.number().int().positive().optional(),
  /** Only work on these priors, e.g. the ones this device has cached. */
  priorIds: z.array(z.number().int().positive()).min(1).max(64).optional(),
  /** Only work for this campaign (a volunteer may back one project). */
  campaignId: z.number().int().positive().optional(),
});
export type ClaimRequest = z.infer<typeof claimRequestSchema>;

export const workPhaseSchema = z.enum(['score', 'align', 'target']);
export type WorkPhase = z.infer<typeof workPhaseSchema>;

/** One leased work item: run `prior` over the listed samples and upload the rows (target codec). */
export const workAssignmentSchema = z.object({
  leaseId: z.number().int(),
  expiresAt: z.string(),
  heartbeatSeconds: z.number(),
  phase: workPhaseSchema,
  campaignId: z.number().int(),
  round: z.number().int(),
  prior: z.object({
    id: z.number().int(),
    name: z.string(),
    modelUrl: z.string(),
    weightsUrl: z.string(),
    /** SHA-256 (hex) of model.json and of weights.bin, so a cached copy can be checked. */
    modelSha256: z.string(),
    weightsSha256: z.string(),
    /** Download size of both files. */
    modelBytes: z.number().int(),
    featureDim: z.number().int(),
    inputHeight: z.number().int(),
    inputWidth: z.number().int(),
    inputChannels: z.number().int(),
    pixelScale: z.number(),
    mean: z.array(z.number()),
    std: z.array(z.number()),
  }),
  dataset: z.object({
    id: z.number().int(),
    height: z.number().int(),
    width: z.number().int(),
    channels: z.number().int(),
  }),
  /** int32 sample ids, little-endian, in the order the rows must be uploaded. */
  sampleIdsUrl: z.string(),
  /** The images of those samples, uint8 HWC, in the same order. */
  samplesUrl: z.string(),
  /** Target phase: float32 [featureDim, rowDim] map then [rowDim] bias; y = psi(x) T + b. */
  alignmentUrl: z.string().nullable(),
  /**
   * Align phase: prior k's verified features on the shared set and the reference targets S_Y*
   * (both target codec), and how the fit is split and regularised. The upload is the map T_k as
   * featureDim rows then the bias as one more row, with row ids 0..featureDim.
   */
  align: z
    .object({
      featuresUrl: z.string(),
      referenceUrl: z.string(),
      splitSeed: z.number().int(),
      heldOutFraction: z.number(),
      lambda: z.number(),
    })
    .nullable(),
  /** Rows to upload: the shard's samples, or featureDim + 1 for an align item. */
  sampleCount: z.number().int(),
  /** Width of every uploaded row: the prior's feature size when scoring, n when aligning or targeting. */
  rowDim: z.number().int(),
  resultUrl: z.string(),
});
export type WorkAssignment = z.infer<typeof workAssignmentSchema>;

export const volunteerRegistrationSchema = z.object({ volunteerId: z.string(), token: z.string() });
export type VolunteerRegistration = z.infer<typeof volunteerRegistrationSchema>;
