import type { GraphModelArtifacts } from '@coopt/shared/converter';
import { loadConvertedModel } from '@coopt/shared/converter';
import { type AlignmentMap, type PriorInputMeta, runPriorBatch } from '@coopt/shared/volunteer';
import { initTfjs } from '../priors/tfjs-runtime.ts';

export interface PriorRun {
  artifacts: GraphModelArtifacts;
  meta: PriorInputMeta;
  /** uint8 HWC pixels of `count` images of the dataset's shape. */
  pixels: Uint8Array;
  shape: [number, number, number, number];
  alignment?: AlignmentMap;
}

/** What a volunteer computes for a work item, in TF.js (wasm) in Node: the same batch code the browser worker runs. */
export async function runPrior(run: PriorRun): Promise<Float32Array> {
  await initTfjs();
  const model = await loadConvertedModel(run.artifacts);
  try {
    return await runPriorBatch(model, run.meta, run.pixels, run.shape, run.alignment);
  } finally {
    model.dispose();
  }
}
