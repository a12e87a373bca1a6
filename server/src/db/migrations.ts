import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
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
  if (database.target.kind !== 'postgres') throw new Error('postgres database without a postgres target');
  // An advisory lock belongs to one connection, so migrate over a single dedicated one that holds it.
  const client = postgres(database.target.url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migratePostgres(drizzlePostgres({ client }), { migrationsFolder: dir });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

export interface MigrationState {
  /** Tag of the newest applied migration, e.g. "0000_foundation". */
  latest: string | null;
  applied: number;
}

/** The journals read so far, by folder: they ship with the code, so one read per process is enough. */
const journals = new Map<string, JournalEntry[]>();

function cachedJournal(dir: string): JournalEntry[] {
  let entries = journals.get(dir);
  if (!entries) {
    entries = readJournal(dir);
    journals.set(dir, entries);
  }
  return entries;
}

export async function migrationState(database: Database, dir = migrationsDir): Promise<MigrationState> {
  const rows = await database.rows<{ created_at: string | number }>(
    sql`select created_at from drizzle.__drizzle_migrations order by created_at desc`,
  );
  const newest = rows[0];
  if (!newest) return { latest: null, applied: 0 };
  const entry = cachedJournal(dir).find((e) => e.when === Number(newest.created_at));
  return { latest: entry?.tag ?? null, applied: rows.length };
}
