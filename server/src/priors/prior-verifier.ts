import {
  type ConvertedPrior,
  compareOutputs,
  loadConvertedModel,
  type OutputComparison,
  preprocessImages,
  withGraphOutput,
} from '@coopt/shared/converter';
import ort from 'onnxruntime-node';
import { initTfjs, tf } from './tfjs-runtime.ts';

/** The conversion is accepted when TF.js and onnxruntime agree this closely on real images. */
export const MAX_RELATIVE_ERROR = 1e-3;

export interface VerificationResult extends OutputComparison {
  images: number;
  backend: string;
}

/**
 * Runs the original ONNX file in onnxruntime-node and the converted graph model in TF.js on the
 * same preprocessed dataset images, and compares the feature tensors.
 */
export async function verifyConversion(
  onnxBytes: Uint8Array,
  converted: ConvertedPrior,
  images: { pixels: Uint8Array; shape: [number, number, number, number] },
): Promise<VerificationResult> {
  const backend = await initTfjs();
  const meta = converted.metadata;
  const model = await loadConvertedModel(converted.artifacts);
  const input = preprocessImages(tf.tensor4d(images.pixels, images.shape, 'int32'), meta);
  try {
    const out = model.execute(input) as tf.Tensor;
    const candidate = await out.data();
    out.dispose();
    const nchw = tf.transpose(input, [0, 3, 1, 2]);
    const nchwData = (await nchw.data()) as Float32Array;
    nchw.dispose();

    const target = meta.featureTensor;
    const bytes = converted.onnxOutputs.includes(target) ? onnxBytes : withGraphOutput(onnxBytes, target);
    const session = await ort.InferenceSession.create(bytes);
    try {
      const feeds = {
        [session.inputNames[0] as string]: new ort.Tensor('float32', nchwData, [
          images.shape[0],
          meta.inputChannels,
          meta.inputHeight,
          meta.inputWidth,
        ]),
      };
      const result = await session.run(feeds, [target]);
      const reference = result[target]?.data as Float32Array;
      return { ...compareOutputs(reference, candidate as Float32Array), images: images.shape[0], backend };
    } finally {
      await session.release();
    }
  } finally {
    input.dispose();
    model.dispose();
  }
}
