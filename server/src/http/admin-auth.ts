import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '@coopt/shared';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './app-env.ts';
import { AppError } from './app-error.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison: hashing first makes both sides the same length. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Admin routes: no credentials is 401; credentials that are not the admin token are 403. */
export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('authorization');
  if (!header)
    throw new AppError(401, ErrorCode.Unauthorized, 'admin token required: send "Authorization: Bearer <token>"');
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match?.[1] || !tokenMatches(match[1].trim(), c.var.deps.adminToken)) {
    throw new AppError(403, ErrorCode.Forbidden, 'this token is not the admin token');
  }
  await next();
});
