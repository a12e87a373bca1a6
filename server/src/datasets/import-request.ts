import type { DatasetImportRequest } from '@coopt/shared';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { AppError } from '../http/app-error.ts';
import { blobByteSource, fileSource } from './byte-source.ts';
import { readCifar } from './cifar-reader.ts';
import { findDatasetByName, type ImportProgress, importDataset } from './dataset-importer.ts';
import type { DatasetRow } from './dataset-views.ts';
import { readIdx } from './idx-reader.ts';
import { readImageFolder } from './image-folder-reader.ts';
import { findKnownSource, isAvailable, type KnownSource } from './known-sources.ts';
import { READ_BATCH_IMAGES } from './sample-stream.ts';

type Deps = { database: Database; blobs: BlobStore };

/** Imports one of the known sources; returns the existing dataset when it was imported before. */
export async function importKnownSource(
  deps: Deps,
  source: KnownSource,
  onProgress?: (p: ImportProgress) => void,
): Promise<{ dataset: DatasetRow; created: boolean }> {
  const existing = await findDatasetByName(deps.database, source.datasetName);
  if (existing) return { dataset: existing, created: false };
  const stream = await readIdx(fileSource(source.images), fileSource(source.labels), {
    batchSize: READ_BATCH_IMAGES,
    classNames: source.classNames,
  });
  const dataset = await importDataset(deps, { name: source.datasetName, format: 'idx', stream, onProgress });
  return { dataset, created: true };
}

/** Runs an admin's import request against files uploaded earlier to the blob store. */
export async function importFromRequest(deps: Deps, req: DatasetImportRequest): Promise<DatasetRow> {
  const batchSize = READ_BATCH_IMAGES;
  const upload = async (file: { blob: string; fileName?: string | undefined }) => {
    if (!(await deps.blobs.stat(file.blob))) throw AppError.notFound(`no uploaded blob ${file.blob}`);
    return blobByteSource(deps.blobs, file.blob, file.fileName);
  };
  switch (req.format) {
    case 'source': {
      const source = findKnownSource(req.source);
      if (!source) throw AppError.notFound(`unknown dataset source "${req.source}"`);
      if (!isAvailable(source))
        throw AppError.notFound(`dataset source "${req.source}" is not installed on this server`);
      return (await importKnownSource(deps, source)).dataset;
    }
    case 'idx': {
      const stream = await readIdx(await upload(req.images), req.labels ? await upload(req.labels) : null, {
        batchSize,
      });
      return importDataset(deps, { name: req.name, format: 'idx', stream });
    }
    case 'cifar': {
      const sources = await Promise.all(req.batches.map(upload));
      const stream = await readCifar(sources, { batchSize, variant: req.variant });
      return importDataset(deps, { name: req.name, format: 'cifar', stream });
    }
    case 'images': {
      const stream = await readImageFolder(
        { kind: 'tar', source: await upload(req.archive) },
        { batchSize, size: req.size },
      );
      return importDataset(deps, { name: req.name, format: 'images', stream });
    }
  }
}
