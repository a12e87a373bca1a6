import { ErrorCode } from '@coopt/shared';
import { createMiddleware } from 'hono/factory';
import { volunteerForToken } from '../volunteers/volunteer-tokens.ts';
import type { AppEnv } from './app-env.ts';
import { AppError } from './app-error.ts';

/** Volunteer routes: a missing or unknown volunteer token is 401 (get one from POST /api/volunteers). */
export const requireVolunteer = createMiddleware<AppEnv>(async (c, next) => {
  const match = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
  const volunteer = match?.[1] ? await volunteerForToken(c.var.deps.database, match[1].trim()) : null;
  if (!volunteer) {
    throw new AppError(401, ErrorCode.Unauthorized, 'volunteer token required: POST /api/volunteers gives one');
  }
  c.set('volunteer', volunteer);
  await next();
});
