/** Shape of every image in a dataset, stored as uint8 in height x width x channels order. */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

export interface SampleBatch {
  count: number;
  /** count * height * width * channels bytes, HWC per image. */
  pixels: Uint8Array;
  /** One class index per image, or null for unlabeled data. */
  labels: Int32Array | null;
}

/** What every format reader produces: a shape, and batches of images in dataset order. */
export interface SampleStream {
  shape: ImageShape;
  /** Number of images when the header says so; null when only the end tells. */
  total: number | null;
  batches: AsyncIterable<SampleBatch>;
  /** Class names once the stream is drained; null when the dataset has no labels. */
  classNames(): string[] | null;
}

export function bytesPerImage(shape: ImageShape): number {
  return shape.height * shape.width * shape.channels;
}

/** Images larger than this per side are refused: priors here take small inputs, and it bounds memory. */
export const MAX_IMAGE_SIDE = 1024;

/** Images per batch that readers hand to the importer; the importer regroups them into storage chunks. */
export const READ_BATCH_IMAGES = 4096;
