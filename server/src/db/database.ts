import fs from 'node:fs';
import type { DatabaseKind } from '@coopt/shared';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  kind: DatabaseKind;
  target: DatabaseTarget;
  db: Db;
  /**
   * Runs raw SQL and returns its rows, whichever driver is underneath. `prepare` keeps the
   * statement prepared on each Postgres connection, so a hot statement is parsed and planned once
   * per connection rather than per call.
   */
  rows<T extends Record<string, unknown>>(query: SQL, options?: { prepare?: boolean }): Promise<T[]>;
  /**
   * PGlite only: plain SQL text for libraries that bring their own (the job queue), several
   * statements when there are no values. On Postgres such libraries connect by URL themselves.
   */
  executeSql?(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  close(): Promise<void>;
}

export type DatabaseTarget = { kind: 'pglite'; dataDir: string | null } | { kind: 'postgres'; url: string };

/** Opens the embedded PGlite database (on disk, or in memory when dataDir is null) or a Postgres server. */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === 'pglite') {
    if (target.dataDir) fs.mkdirSync(target.dataDir, { recursive: true });
    const client = target.dataDir ? await PGlite.create(target.dataDir) : await PGlite.create();
    const db = drizzlePglite({ client, schema }) as unknown as Db;
    return {
      kind: 'pglite',
      target,
      db,
      rows: async <T>(query: SQL) => (await client.query<T>(toRaw(query).sql, toRaw(query).params)).rows,
      executeSql: async (text, values = []) => {
        // PGlite's extended protocol takes one statement; its simple protocol takes several but no values.
        if (values.length > 0) return { rows: (await client.query<Record<string, unknown>>(text, values)).rows };
        return { rows: ((await client.exec(text)).at(-1)?.rows ?? []) as Record<string, unknown>[] };
      },
      close: () => client.close(),
    };
  }
  const client = postgres(target.url, { max: 20, onnotice: () => {} });
  const db = drizzlePostgres({ client, schema }) as unknown as Db;
  return {
    kind: 'postgres',
    target,
    db,
    rows: async <T>(query: SQL, options: { prepare?: boolean } = {}) => {
      const raw = toRaw(query);
      return (await client.unsafe(raw.sql, raw.params as postgres.ParameterOrJSON<never>[], {
        prepare: options.prepare ?? false,
      })) as unknown as T[];
    },
    close: () => client.end({ timeout: 5 }),
  };
}

const dialect = new PgDialect();

function toRaw(query: SQL): { sql: string; params: unknown[] } {
  return dialect.sqlToQuery(query);
}
