import type { Health } from '@coopt/shared';
import { migrationState } from '../../db/migrations.ts';
import { createRouter } from '../../http/app-env.ts';

export const healthRoute = createRouter().get('/', async (c) => {
  const { database, version } = c.var.deps;
  const migration = await migrationState(database);
  const body: Health = {
    status: 'ok',
    version,
    database: { kind: database.kind, migration: migration.latest, appliedMigrations: migration.applied },
  };
  return c.json(body);
});
