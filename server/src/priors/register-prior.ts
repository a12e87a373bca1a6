import { ConversionError, convertOnnxToTfjs, type PixelNormalization } from '@coopt/shared/converter';
import { asc } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import { streamSamples } from '../datasets/dataset-samples.ts';
import { getDataset } from '../datasets/dataset-views.ts';
import type { Database } from '../db/database.ts';
import { datasets, priorModels } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import { MAX_RELATIVE_ERROR, verifyConversion } from './prior-verifier.ts';
import { findPriorByName, type PriorRow } from './prior-views.ts';

/** How many dataset images every conversion is checked on. */
export const VERIFY_IMAGES = 8;

export interface RegisterPriorInput {
  name: string;
  onnxBlobKey: string;
  featureTensor?: string;
  inputOfNode?: string;
  normalization?: Partial<PixelNormalization>;
  /** Images for verification come from this dataset (default: the first one). */
  datasetId?: number;
  maxModelBytes: number;
  onProgress?: (p: { phase: 'convert' | 'verify' | 'store'; done: number; total: number }) => void;
}

export class PriorExistsError extends Error {
  constructor(readonly priorName: string) {
    super(`a prior named "${priorName}" already exists`);
  }
}

/**
 * Converts an uploaded ONNX prior, checks it against onnxruntime on real dataset images, and
 * stores both artifacts. A prior that fails any step is refused whole: no row, no dangling state.
 */
export async function registerPrior(
  deps: { database: Database; blobs: BlobStore },
  input: RegisterPriorInput,
): Promise<PriorRow> {
  if (await findPriorByName(deps.database, input.name)) throw new PriorExistsError(input.name);
  const info = await deps.blobs.stat(input.onnxBlobKey);
  if (!info) throw AppError.notFound(`no uploaded blob ${input.onnxBlobKey}`);
  if (info.size > input.maxModelBytes) {
    throw new ConversionError('too_large', `the ONNX file is ${info.size} bytes; the limit is ${input.maxModelBytes}`);
  }
  const onnx = await deps.blobs.get(input.onnxBlobKey);
  const converted = convertOnnxToTfjs(onnx, {
    featureTensor: input.featureTensor,
    inputOfNode: input.inputOfNode,
    normalization: input.normalization,
    onProgress: (p) => input.onProgress?.({ phase: 'convert', ...p }),
  });

  const dataset = input.datasetId
    ? await getDataset(deps.database, input.datasetId)
    : ((await deps.database.db.select().from(datasets).orderBy(asc(datasets.id)).limit(1))[0] ?? null);
  if (!dataset) throw AppError.badRequest('verification needs images: import a dataset first');
  const n = Math.min(VERIFY_IMAGES, dataset.count);
  const parts: Uint8Array[] = [];
  for await (const part of streamSamples(deps, dataset, 0, n)) parts.push(part);
  input.onProgress?.({ phase: 'verify', done: 0, total: n });
  const result = await verifyConversion(onnx, converted, {
    pixels: Buffer.concat(parts),
    shape: [n, dataset.height, dataset.width, dataset.channels],
  });
  input.onProgress?.({ phase: 'verify', done: n, total: n });
  if (!(result.relError <= MAX_RELATIVE_ERROR)) {
    throw new ConversionError(
      'mismatch',
      `the converted model disagrees with onnxruntime: max relative error ${result.relError.toExponential(2)} on ${n} images of "${dataset.name}" (limit ${MAX_RELATIVE_ERROR})`,
    );
  }

  const modelJson = await deps.blobs.put(new TextEncoder().encode(JSON.stringify(converted.artifacts.modelJson)));
  const weights = await deps.blobs.put(converted.artifacts.weightData);
  input.onProgress?.({ phase: 'store', done: 1, total: 1 });
  const meta = converted.metadata;
  try {
    const [row] = await deps.database.db
      .insert(priorModels)
      .values({
        name: input.name,
        status: 'ready',
        onnxBlobKey: input.onnxBlobKey,
        graphModelBlobKey: modelJson.key,
        weightsBlobKey: weights.key,
        modelBytes: modelJson.size + weights.size,
        featureTensor: meta.featureTensor,
        inputHeight: meta.inputHeight,
        inputWidth: meta.inputWidth,
        inputChannels: meta.inputChannels,
        pixelScale: meta.pixelScale,
        mean: meta.mean,
        std: meta.std,
        featureDim: meta.featureDim,
        verification: { maxRelError: result.relError, images: n, datasetId: dataset.id, backend: result.backend },
      })
      .returning();
    if (!row) throw new Error('prior insert returned no row');
    return row;
  } catch (err) {
    if (
      (err as { code?: string }).code === '23505' ||
      String((err as { cause?: { code?: string } }).cause?.code) === '23505'
    ) {
      throw new PriorExistsError(input.name);
    }
    throw err;
  }
}
