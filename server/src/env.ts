import path from 'node:path';
import { z } from 'zod';

const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  COOPT_DATA_DIR: z.string().min(1).default('.coopt-data'),
  DATABASE_URL: z.url().optional(),
  COOPT_BLOB_DIR: z.string().min(1).optional(),
  COOPT_ADMIN_TOKEN: z.string().min(16, 'COOPT_ADMIN_TOKEN must be at least 16 characters').optional(),
  COOPT_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  COOPT_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(2 * 1024 ** 3),
  COOPT_MAX_MODEL_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(512 * 1024 ** 2),
  /** How long a volunteer holds a work item without a heartbeat before it returns to the pool. */
  COOPT_LEASE_SECONDS: z.coerce.number().positive().max(86_400).default(120),
  COOPT_DEMO: flag.default(true),
  /** Whether `pnpm start` also takes student-training jobs in its own process (`pnpm worker` always does). */
  COOPT_WORKER: flag.default(true),
  /** Epochs of student training per completed round. */
  COOPT_TRAIN_EPOCHS: z.coerce.number().int().positive().max(1000).default(5),
  COOPT_TRAIN_BACKEND: z.enum(['wasm', 'webgpu']).default('wasm'),
  COOPT_WEB_DIST: z.string().min(1).optional(),
  TEST_DATABASE_URL: z.url().optional(),
  /** Set by pnpm to the directory the user ran the command in; relative paths resolve against it. */
  INIT_CWD: z.string().optional(),
});

export type Env = z.infer<typeof envSchema>;

export class EnvError extends Error {}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const defined = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(defined);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new EnvError(`invalid environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The one place that reads process.env. */
export function loadEnv(): Env {
  return parseEnv(process.env);
}

/** Resolves a path from the environment against the directory the user started the command in. */
export function resolveUserPath(env: Env, p: string): string {
  return path.resolve(env.INIT_CWD ?? process.cwd(), p);
}
