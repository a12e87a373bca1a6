import type { GraphModelJson } from '@coopt/shared/converter';
import { loadConvertedModel } from '@coopt/shared/converter';
import { type AlignmentMap, runPriorBatch } from '@coopt/shared/volunteer';
import type { BlobStore } from '../blobs/blob-store.ts';
import { readSamplesByIds } from '../datasets/dataset-samples.ts';
import type { Database } from '../db/database.ts';
import type { datasets } from '../db/schema.ts';
import { type PriorRow, priorInputMeta } from '../priors/prior-views.ts';
import { initTfjs } from '../priors/tfjs-runtime.ts';
import { yieldToEventLoop } from './yield-to-event-loop.ts';

/**
 * A prior's outputs for the given samples, computed on the server in TF.js (wasm) with the batch
 * code volunteers run: its features, or targets when an alignment map is given. Used where the
 * server needs outputs volunteers were never asked for (ablations, the priors' own probe).
 */
export async function priorOutputs(
  deps: { database: Database; blobs: BlobStore },
  prior: PriorRow,
  dataset: typeof datasets.$inferSelect,
  ids: Int32Array,
  alignment?: AlignmentMap,
  batchSize = 256,
): Promise<{ values: Float32Array; dim: number }> {
  await initTfjs();
  if (!prior.graphModelBlobKey || !prior.weightsBlobKey) throw new Error(`prior ${prior.name} has no converted model`);
  const modelJson = JSON.parse(
    new TextDecoder().decode(await deps.blobs.get(prior.graphModelBlobKey)),
  ) as GraphModelJson;
  const model = await loadConvertedModel({ modelJson, weightData: await deps.blobs.get(prior.weightsBlobKey) });
  const meta = priorInputMeta(prior);
  const pixels = await readSamplesByIds(deps, dataset, ids);
  const image = dataset.height * dataset.width * dataset.channels;
  const parts: Float32Array[] = [];
  try {
    for (let start = 0; start < ids.length; start += batchSize) {
      const k = Math.min(batchSize, ids.length - start);
      parts.push(
        await runPriorBatch(
          model,
          meta,
          pixels.subarray(start * image, (start + k) * image),
          [k, dataset.height, dataset.width, dataset.channels],
          alignment,
        ),
      );
      await yieldToEventLoop();
    }
  } finally {
    model.dispose();
  }
  const dim = ids.length > 0 ? (parts[0] as Float32Array).length / Math.min(ids.length, batchSize) : 0;
  const values = new Float32Array(ids.length * dim);
  let offset = 0;
  for (const p of parts) {
    values.set(p, offset);
    offset += p.length;
  }
  return { values, dim };
}
