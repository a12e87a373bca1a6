import { randomBytes } from 'node:crypto';
import type { DatabaseKind } from '@coopt/shared';
import postgres from 'postgres';
import { type Database, openDatabase } from '../db/database.ts';
import { applyMigrations } from '../db/migrations.ts';
import { loadEnv } from '../env.ts';

/** PGlite always; the real Postgres server too when TEST_DATABASE_URL is set (as .ci/run does). */
export function databaseKinds(): DatabaseKind[] {
  return loadEnv().TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export function testDatabaseUrl(): string {
  const url = loadEnv().TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set');
  return url;
}

/** A throwaway database on the real server: created empty, dropped on close. */
export async function createScratchPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = testDatabaseUrl();
  const name = `coopt_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** A fresh, migrated database of the given kind (in-memory PGlite, or a scratch Postgres database). */
export async function openTestDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<Database> {
  const migrate = options.migrate ?? true;
  if (kind === 'pglite') {
    const database = await openDatabase({ kind: 'pglite', dataDir: null });
    if (migrate) await applyMigrations(database);
    return database;
  }
  const scratch = await createScratchPostgres();
  const database = await openDatabase({ kind: 'postgres', url: scratch.url });
  if (migrate) await applyMigrations(database);
  return {
    ...database,
    close: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}
