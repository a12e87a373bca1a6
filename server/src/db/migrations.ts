import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrationsDir } from '../paths.ts';
import type { Database } from './database.ts';

/** Any fixed number: every API process takes this advisory lock before migrating, so they never race. */
const MIGRATION_LOCK_KEY = 4_826_051;

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

export function readJournal(dir = migrationsDir): JournalEntry[] {
  const journal = JSON.parse(fs.readFileSync(path.join(dir, 'meta/_journal.json'), 'utf8')) as {
    entries: JournalEntry[];
  };
  return journal.entries;
}

/** Applies every committed migration not yet applied. Safe to call from several processes at once. */
export async function applyMigrations(database: Database, dir = migrationsDir): Promise<void> {
  if (database.kind === 'pglite') {
    await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder: dir });
    return;
  }
  // Session-level advisory locks belong to one connection, so take the lock inside a
  // transaction-scoped lock on the migrating connection itself.
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await migratePostgres(tx as unknown as PostgresJsDatabase, { migrationsFolder: dir });
  });
}

export interface MigrationState {
  /** Tag of the newest applied migration, e.g. "0000_foundation". */
  latest: string | null;
  applied: number;
}

export async function migrationState(database: Database, dir = migrationsDir): Promise<MigrationState> {
  const rows = await database.rows<{ created_at: string | number }>(
    sql`select created_at from drizzle.__drizzle_migrations order by created_at desc`,
  );
  const newest = rows[0];
  if (!newest) return { latest: null, applied: 0 };
  const entry = readJournal(dir).find((e) => e.when === Number(newest.created_at));
  return { latest: entry?.tag ?? null, applied: rows.length };
}
