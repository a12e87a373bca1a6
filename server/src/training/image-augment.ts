import type { SeededRandom } from '@coopt/shared/math';
import * as tf from '@tensorflow/tfjs-core';

export interface AugmentOptions {
  /** Smallest share of the image side a crop keeps (SimCLR's random resized crop). */
  minCropSide: number;
  /** Brightness and contrast jitter, in units of the normalised pixel scale; 0 for none. */
  jitter: number;
}

/** Crop and flip only: what the regression and supervised students use when augmenting. */
export const CROP_FLIP: AugmentOptions = { minCropSide: 0.75, jitter: 0 };
/** SimCLR's stronger views for one-channel images: wider crops, flips, brightness and contrast. */
export const CONTRASTIVE_VIEWS: AugmentOptions = { minCropSide: 0.5, jitter: 0.4 };

/**
 * A random view of every image in the batch, drawn per image from the seeded generator: a square
 * crop of random size and place resized back to full size, a horizontal flip half the time
 * (a box with x1 > x2 is read mirrored), then contrast and brightness jitter.
 */
export function augmentImages(x: tf.Tensor4D, rng: SeededRandom, options: AugmentOptions): tf.Tensor4D {
  const [batch, h, w] = x.shape;
  const boxes = new Float32Array(batch * 4);
  const contrast = new Float32Array(batch);
  const brightness = new Float32Array(batch);
  for (let i = 0; i < batch; i++) {
    const side = options.minCropSide + (1 - options.minCropSide) * rng.next();
    const top = (1 - side) * rng.next();
    const left = (1 - side) * rng.next();
    const flip = rng.next() < 0.5;
    boxes.set([top, flip ? left + side : left, top + side, flip ? left : left + side], i * 4);
    contrast[i] = 1 + options.jitter * (2 * rng.next() - 1);
    brightness[i] = options.jitter * (2 * rng.next() - 1);
  }
  return tf.tidy(() => {
    const cropped = tf.image.cropAndResize(
      x,
      tf.tensor2d(boxes, [batch, 4]),
      tf.range(0, batch, 1, 'int32') as tf.Tensor1D,
      [h, w],
    );
    if (options.jitter === 0) return cropped;
    return tf.add(
      tf.mul(cropped, tf.tensor4d(contrast, [batch, 1, 1, 1])),
      tf.tensor4d(brightness, [batch, 1, 1, 1]),
    ) as tf.Tensor4D;
  });
}
