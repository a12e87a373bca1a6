import type { GraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import type { PriorModelMetadata } from '../converter/onnx-to-tfjs.ts';
import { preprocessImages } from '../converter/preprocess.ts';

export type PriorInputMeta = Pick<
  PriorModelMetadata,
  'inputHeight' | 'inputWidth' | 'inputChannels' | 'pixelScale' | 'mean' | 'std'
>;

/** Target work: float32 [l, n] map then [n] bias, so y = psi(x) T + b. */
export interface AlignmentMap {
  map: Float32Array;
  dim: number;
}

/**
 * One batch of a volunteer's score or target work on whichever backend is active: preprocess the
 * uint8 HWC pixels, run the prior to its features, and map them through T_k when targeting. The
 * result is read with the async `data()`, the only read that is safe on WebGPU.
 */
export async function runPriorBatch(
  model: GraphModel,
  meta: PriorInputMeta,
  pixels: Uint8Array,
  shape: [number, number, number, number],
  alignment?: AlignmentMap,
): Promise<Float32Array> {
  const full = {
    ...meta,
    inputLayout: 'NHWC',
    featureTensor: '',
    featureDim: 0,
    opset: 17,
    producer: '',
  } as PriorModelMetadata;
  const out = tf.tidy(() => {
    const x = preprocessImages(tf.tensor4d(pixels, shape, 'int32'), full);
    let y = model.execute(x) as tf.Tensor2D;
    if (alignment) {
      const l = y.shape[1];
      const n = alignment.dim;
      y = tf.add(
        tf.matMul(y, tf.tensor2d(alignment.map.subarray(0, l * n), [l, n])),
        tf.tensor1d(alignment.map.subarray(l * n)),
      ) as tf.Tensor2D;
    }
    return y;
  });
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}
