import * as tf from '@tensorflow/tfjs-core';
import type { PriorModelMetadata } from './onnx-to-tfjs.ts';

/** ITU-R BT.601 luma weights, for priors that take grayscale images of colour data. */
const LUMA = [0.299, 0.587, 0.114];

/**
 * Turns raw dataset pixels (uint8 values, [N, h, w, c] NHWC) into a prior's input on whichever
 * backend is active (the GPU in a volunteer's tab): bilinear resize with half-pixel centres,
 * channel adaptation (gray <-> RGB), then (x * pixelScale - mean) / std per channel.
 */
export function preprocessImages(pixels: tf.Tensor4D, meta: PriorModelMetadata): tf.Tensor4D {
  return tf.tidy(() => {
    let x: tf.Tensor4D = tf.cast(pixels, 'float32');
    const [, h, w, c] = x.shape;
    if (h !== meta.inputHeight || w !== meta.inputWidth) {
      x = tf.image.resizeBilinear(x, [meta.inputHeight, meta.inputWidth], false, true);
    }
    if (c !== meta.inputChannels) {
      x = c === 1 ? tf.tile(x, [1, 1, 1, meta.inputChannels]) : tf.sum(tf.mul(x, tf.tensor1d(LUMA)), 3, true);
    }
    const scale = tf.scalar(meta.pixelScale);
    const mean = tf.tensor1d(meta.mean);
    const std = tf.tensor1d(meta.std);
    return tf.div(tf.sub(tf.mul(x, scale), mean), std) as tf.Tensor4D;
  });
}

export interface OutputComparison {
  maxAbsDiff: number;
  maxAbs: number;
  /** max |a - b| / max |a|: the error relative to the output's own scale. */
  relError: number;
}

/**
 * Compares two runtimes' outputs. Element-wise relative error explodes on near-zero outputs,
 * so the error is measured against the largest reference magnitude instead.
 */
export function compareOutputs(reference: ArrayLike<number>, candidate: ArrayLike<number>): OutputComparison {
  if (reference.length !== candidate.length) {
    return { maxAbsDiff: Number.POSITIVE_INFINITY, maxAbs: 0, relError: Number.POSITIVE_INFINITY };
  }
  let maxAbsDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i] as number;
    const d = Math.abs(r - (candidate[i] as number));
    if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    maxAbs = Math.max(maxAbs, Math.abs(r));
  }
  return {
    maxAbsDiff,
    maxAbs,
    relError: maxAbs > 0 ? maxAbsDiff / maxAbs : maxAbsDiff === 0 ? 0 : Number.POSITIVE_INFINITY,
  };
}
