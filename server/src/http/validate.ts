import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type { z } from 'zod';
import { AppError } from './app-error.ts';

/** zod validation at the edge; failures become 400s that name each offending field. */
export function validate<Target extends keyof ValidationTargets, Schema extends z.ZodType>(
  target: Target,
  schema: Schema,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues.map((i) => `${[target, ...i.path].join('.')}: ${i.message}`);
      throw AppError.badRequest(`invalid ${target}: ${issues.join('; ')}`);
    }
  });
}
