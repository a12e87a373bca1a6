import { ErrorCode } from '@coopt/shared';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { requireAdmin } from '../../http/admin-auth.ts';
import { createRouter } from '../../http/app-env.ts';
import { classify } from '../../http/error-handler.ts';
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
    const row = await registerPrior(
      c.var.deps,
      registration(c.req.valid('json'), c.var.deps.env.COOPT_MAX_MODEL_BYTES),
    );
    return c.json(toPriorSummary(row), 201);
  })
  // The same registration, answered as NDJSON: a line per conversion and verification step, then
  // the prior, or the error (with the status the plain route would have answered).
  .post('/stream', validate('json', registerPriorSchema), (c) => {
    const input = registration(c.req.valid('json'), c.var.deps.env.COOPT_MAX_MODEL_BYTES);
    c.header('content-type', 'application/x-ndjson');
    return stream(c, async (out) => {
      const line = (v: PriorRegistrationEvent) => out.write(`${JSON.stringify(v)}\n`);
      try {
        const row = await registerPrior(c.var.deps, {
          ...input,
          onProgress: (p) => void line({ type: 'progress', ...p }),
        });
        await line({ type: 'done', prior: toPriorSummary(row) });
      } catch (err) {
        const known = classify(err);
        if (!known) console.error('[coopt] prior registration failed:', err);
        await line({
          type: 'error',
          status: known?.status ?? 500,
          error: { code: known?.code ?? ErrorCode.Internal, message: known?.message ?? 'internal server error' },
        });
      }
    });
  });

export type PriorRegistrationEvent =
  | { type: 'progress'; phase: 'convert' | 'verify' | 'store'; done: number; total: number }
  | { type: 'done'; prior: ReturnType<typeof toPriorSummary> }
  | { type: 'error'; status: number; error: { code: string; message: string } };

function registration(body: z.infer<typeof registerPriorSchema>, maxModelBytes: number) {
  return {
    name: body.name,
    onnxBlobKey: body.onnx.blob,
    featureTensor: body.featureTensor,
    inputOfNode: body.inputOfNode,
    normalization: body.normalization,
    datasetId: body.datasetId,
    maxModelBytes,
  };
}
