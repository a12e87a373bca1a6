import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LocalBlobStore } from './blobs/local-blob-store.ts';
import { openDatabase } from './db/database.ts';
import { applyMigrations } from './db/migrations.ts';
import { type Env, resolveUserPath } from './env.ts';
import type { AppDeps } from './http/app-env.ts';

export const VERSION = '0.1.0';

/**
 * Opens everything the API and the CLI share: the database (PGlite under the data directory,
 * or Postgres at DATABASE_URL), migrated to the newest schema, and the blob store.
 */
export async function openRuntime(env: Env): Promise<AppDeps & { dataDir: string; close(): Promise<void> }> {
  const dataDir = resolveUserPath(env, env.COOPT_DATA_DIR);
  fs.mkdirSync(dataDir, { recursive: true });
  const database = await openDatabase(
    env.DATABASE_URL
      ? { kind: 'postgres', url: env.DATABASE_URL }
      : { kind: 'pglite', dataDir: path.join(dataDir, 'pglite') },
  );
  await applyMigrations(database);
  const blobs = new LocalBlobStore(
    env.COOPT_BLOB_DIR ? resolveUserPath(env, env.COOPT_BLOB_DIR) : path.join(dataDir, 'blobs'),
  );
  return {
    env,
    database,
    blobs,
    adminToken: env.COOPT_ADMIN_TOKEN ?? adminTokenFile(dataDir),
    version: VERSION,
    dataDir,
    close: () => database.close(),
  };
}

/** Without COOPT_ADMIN_TOKEN, a random token is made once and kept in the data directory (mode 0600). */
function adminTokenFile(dataDir: string): string {
  const file = path.join(dataDir, 'admin-token');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
