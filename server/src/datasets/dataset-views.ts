import type { AdminDataset, DatasetSummary } from '@coopt/shared';
import { asc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { datasetLabelSets, datasets } from '../db/schema.ts';

export type DatasetRow = typeof datasets.$inferSelect;

export function toSummary(row: DatasetRow): DatasetSummary {
  return {
    id: row.id,
    name: row.name,
    format: row.format,
    count: row.count,
    height: row.height,
    width: row.width,
    channels: row.channels,
    createdAt: row.createdAt.toISOString(),
  };
}

export async function getDataset(database: Database, id: number): Promise<DatasetRow | null> {
  const [row] = await database.db.select().from(datasets).where(eq(datasets.id, id)).limit(1);
  return row ?? null;
}

export async function listDatasets(database: Database): Promise<DatasetRow[]> {
  return database.db.select().from(datasets).orderBy(asc(datasets.id));
}

/** The admin view adds whether evaluation labels exist; the labels themselves never leave the server here. */
export async function listAdminDatasets(database: Database): Promise<AdminDataset[]> {
  const rows = await database.db
    .select({ dataset: datasets, classNames: datasetLabelSets.classNames, labelled: datasetLabelSets.datasetId })
    .from(datasets)
    .leftJoin(datasetLabelSets, eq(datasetLabelSets.datasetId, datasets.id))
    .orderBy(asc(datasets.id));
  return rows.map((r) => ({
    ...toSummary(r.dataset),
    hasLabels: r.labelled !== null,
    classNames: r.classNames ?? null,
    sourceHash: r.dataset.sourceHash,
  }));
}
