import fs from 'node:fs';
import path from 'node:path';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { migrationsDir } from '../paths.ts';
import { databaseKinds, openTestDatabase, testDatabaseUrl } from '../test/test-database.ts';
import { openDatabase } from './database.ts';
import { applyMigrations, migrationState, readJournal } from './migrations.ts';
import * as schema from './schema.ts';

describe('schema and migrations', () => {
  it('have not drifted: the committed migrations produce exactly the drizzle schema', async () => {
    const journal = readJournal();
    const last = journal.at(-1);
    if (!last) throw new Error('no migrations committed');
    const snapshotFile = path.join(migrationsDir, 'meta', `${String(last.idx).padStart(4, '0')}_snapshot.json`);
    const committed = JSON.parse(fs.readFileSync(snapshotFile, 'utf8'));
    const current = generateDrizzleJson(schema as unknown as Record<string, unknown>, committed.id);
    const pending = await generateMigration(committed, current);
    expect(pending, 'schema.ts changed without a migration: run `pnpm --filter @coopt/server db:generate`').toEqual([]);
  });

  it('every journal entry has its SQL file', () => {
    for (const entry of readJournal()) expect(fs.existsSync(path.join(migrationsDir, `${entry.tag}.sql`))).toBe(true);
  });
});

describe.each(databaseKinds())('migrations on %s', (kind) => {
  it('apply to an empty database, are idempotent, and report the newest tag', async () => {
    const database = await openTestDatabase(kind, { migrate: false });
    try {
      expect((await migrationState(database).catch(() => null))?.applied ?? 0).toBe(0);
      await applyMigrations(database);
      await applyMigrations(database);
      const state = await migrationState(database);
      expect(state).toEqual({ latest: readJournal().at(-1)?.tag, applied: readJournal().length });
      const tables = await database.rows<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by 1`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining([
          'datasets',
          'sample_ranges',
          'label_ranges',
          'campaigns',
          'leases',
          'results',
          'volunteers',
        ]),
      );
    } finally {
      await database.close();
    }
  });
});

// Several processes can share only a real server; PGlite belongs to one process.
describe.each(databaseKinds().filter((k) => k === 'postgres'))('migrations on a shared %s server', () => {
  it('are safe when several processes start at once', async () => {
    const scratch = await openTestDatabase('postgres', { migrate: false });
    const url = new URL(testDatabaseUrl());
    const name = (await scratch.rows<{ db: string }>(sql`select current_database() as db`))[0]?.db;
    url.pathname = `/${name}`;
    const peers = await Promise.all([1, 2, 3].map(() => openDatabase({ kind: 'postgres', url: url.toString() })));
    try {
      await Promise.all(peers.map((p) => applyMigrations(p)));
      expect((await migrationState(scratch)).applied).toBe(readJournal().length);
    } finally {
      await Promise.all(peers.map((p) => p.close()));
      await scratch.close();
    }
  });
});
