import { asc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { priorModels } from '../db/schema.ts';

export type PriorRow = typeof priorModels.$inferSelect;

/** What anyone (a volunteer's worker) needs to run a prior: shapes, normalisation and where the model is. */
export function toPriorSummary(row: PriorRow) {
  return {
    id: row.id,
    name: row.name,
    featureDim: row.featureDim ?? 0,
    featureTensor: row.featureTensor ?? '',
    ...priorInputMeta(row),
    modelUrl: `/api/priors/${row.id}/model.json`,
    verification: row.verification ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

export type PriorSummary = ReturnType<typeof toPriorSummary>;

export async function listPriors(database: Database): Promise<PriorRow[]> {
  return database.db.select().from(priorModels).where(eq(priorModels.status, 'ready')).orderBy(asc(priorModels.id));
}

export async function getPrior(database: Database, id: number): Promise<PriorRow | null> {
  const [row] = await database.db.select().from(priorModels).where(eq(priorModels.id, id)).limit(1);
  return row?.status === 'ready' ? row : null;
}

export async function findPriorByName(database: Database, name: string): Promise<PriorRow | null> {
  const [row] = await database.db.select().from(priorModels).where(eq(priorModels.name, name)).limit(1);
  return row ?? null;
}

/** How a prior wants its input: size, channels and pixel normalisation. */
export function priorInputMeta(row: PriorRow) {
  return {
    inputHeight: row.inputHeight ?? 0,
    inputWidth: row.inputWidth ?? 0,
    inputChannels: row.inputChannels ?? 0,
    pixelScale: row.pixelScale ?? 1,
    mean: row.mean ?? [],
    std: row.std ?? [],
  };
}
