import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModelArtifacts } from './tf-graph-builder.ts';

/** Loads converted artifacts straight from memory: the same path the browser takes after download. */
export async function loadConvertedModel(artifacts: GraphModelArtifacts): Promise<GraphModel> {
  const { modelJson, weightData } = artifacts;
  const weights = modelJson.weightsManifest.flatMap((g) => g.weights);
  const buffer = weightData.buffer.slice(
    weightData.byteOffset,
    weightData.byteOffset + weightData.byteLength,
  ) as ArrayBuffer;
  return loadGraphModel(
    tf.io.fromMemory({
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
      modelTopology: modelJson.modelTopology,
      weightSpecs: weights,
      weightData: buffer,
      signature: modelJson.signature,
      userDefinedMetadata: modelJson.userDefinedMetadata,
    }),
  );
}
