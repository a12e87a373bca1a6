import { z } from 'zod';
import { requireAdmin } from '../../http/admin-auth.ts';
import { createRouter } from '../../http/app-env.ts';
import { validate } from '../../http/validate.ts';
import { listPriors, toPriorSummary } from '../../priors/prior-views.ts';
import { registerPrior } from '../../priors/register-prior.ts';

const priorNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit');

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const registerPriorSchema = z
  .object({
    name: priorNameSchema,
    onnx: z.object({ blob: z.string().regex(/^[0-9a-f]{64}$/, 'a blob key is 64 lower-case hex digits (SHA-256)') }),
    featureTensor: z.string().min(1).max(512).optional(),
    inputOfNode: z.string().min(1).max(512).optional(),
    normalization: z
      .object({
        pixelScale: finite.positive().optional(),
        mean: z.array(finite).min(1).max(3).optional(),
        std: z.array(finite.positive()).min(1).max(3).optional(),
      })
      .optional(),
    datasetId: z.number().int().positive().optional(),
  })
  .refine((v) => !(v.featureTensor && v.inputOfNode), 'give featureTensor or inputOfNode, not both');

export const adminPriorsRoute = createRouter()
  .use(requireAdmin)
  .get('/', async (c) => c.json({ priors: (await listPriors(c.var.deps.database)).map(toPriorSummary) }))
  .post('/', validate('json', registerPriorSchema), async (c) => {
    const body = c.req.valid('json');
    const row = await registerPrior(c.var.deps, {
      name: body.name,
      onnxBlobKey: body.onnx.blob,
      featureTensor: body.featureTensor,
      inputOfNode: body.inputOfNode,
      normalization: body.normalization,
      datasetId: body.datasetId,
      maxModelBytes: c.var.deps.env.COOPT_MAX_MODEL_BYTES,
    });
    return c.json(toPriorSummary(row), 201);
  });
