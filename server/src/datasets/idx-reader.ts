import { ByteReader } from './byte-reader.ts';
import type { ByteSource } from './byte-source.ts';
import { DatasetFileError } from './dataset-file-error.ts';
import {
  bytesPerImage,
  type ImageShape,
  MAX_IMAGE_SIDE,
  type SampleBatch,
  type SampleStream,
} from './sample-stream.ts';

const UNSIGNED_BYTE = 0x08;

interface IdxHeader {
  dims: number[];
}

/** IDX header: two zero bytes, a type byte (0x08 = unsigned byte), the rank, then one uint32 BE per dimension. */
async function readHeader(reader: ByteReader, expectRanks: number[], what: string): Promise<IdxHeader> {
  const magic = await reader.readExactly(4, 'the IDX magic number');
  const rank = magic[3] as number;
  if (magic[0] !== 0 || magic[1] !== 0 || magic[2] !== UNSIGNED_BYTE || !expectRanks.includes(rank)) {
    const want = expectRanks.map((r) => `0x000008${r.toString(16).padStart(2, '0')}`).join(' or ');
    throw reader.error(`wrong magic 0x${magic.toString('hex')}; expected ${want} (IDX unsigned-byte ${what})`, 0);
  }
  const dimBytes = await reader.readExactly(4 * rank, 'the IDX dimensions');
  const dims = Array.from({ length: rank }, (_, i) => dimBytes.readUInt32BE(4 * i));
  return { dims };
}

/**
 * Streams an IDX image file (MNIST / Fashion-MNIST layout, gzipped or not) and its optional label file
 * in lock step, batch by batch.
 */
export async function readIdx(
  images: ByteSource,
  labels: ByteSource | null,
  options: { batchSize: number; classNames?: string[] },
): Promise<SampleStream> {
  const imageReader = await ByteReader.open(images);
  const { dims } = await readHeader(imageReader, [3, 4], 'images, 3 or 4 dimensions');
  const [count = 0, height = 0, width = 0, channels = 1] = dims;
  if (count === 0) throw new DatasetFileError(images.name, 4, 'the header declares 0 images');
  if (height < 1 || width < 1 || height > MAX_IMAGE_SIDE || width > MAX_IMAGE_SIDE) {
    throw new DatasetFileError(images.name, 8, `image size ${height}x${width} is outside 1..${MAX_IMAGE_SIDE}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new DatasetFileError(images.name, 16, `images have ${channels} channels; only 1 or 3 are supported`);
  }
  const shape: ImageShape = { height, width, channels };

  let labelReader: ByteReader | null = null;
  if (labels) {
    labelReader = await ByteReader.open(labels);
    const labelDims = (await readHeader(labelReader, [1], 'labels, 1 dimension')).dims;
    if (labelDims[0] !== count) {
      throw new DatasetFileError(
        labels.name,
        4,
        `holds ${labelDims[0]} labels but ${images.name} holds ${count} images; the counts must match`,
      );
    }
  }

  const perImage = bytesPerImage(shape);
  let maxLabel = -1;
  async function* batches(): AsyncIterable<SampleBatch> {
    for (let done = 0; done < count; ) {
      const n = Math.min(options.batchSize, count - done);
      const pixels = await imageReader.readUpTo(n * perImage);
      if (pixels.length < n * perImage) {
        const whole = done + Math.floor(pixels.length / perImage);
        throw imageReader.error(
          `truncated: the header declares ${count} images of ${height}x${width}x${channels} bytes, but the data ends after ${whole}`,
        );
      }
      let labelArray: Int32Array | null = null;
      if (labelReader) {
        const raw = await labelReader.readUpTo(n);
        if (raw.length < n) {
          throw labelReader.error(
            `truncated: the header declares ${count} labels, but the data ends after ${done + raw.length}`,
          );
        }
        labelArray = Int32Array.from(raw);
        for (const l of labelArray) maxLabel = Math.max(maxLabel, l);
      }
      yield { count: n, pixels, labels: labelArray };
      done += n;
    }
    if (!(await imageReader.atEnd())) throw imageReader.error(`unexpected data after the last of ${count} images`);
    if (labelReader && !(await labelReader.atEnd())) {
      throw labelReader.error(`unexpected data after the last of ${count} labels`);
    }
  }

  return {
    shape,
    total: count,
    batches: batches(),
    classNames: () => {
      if (!labelReader) return null;
      if (options.classNames && options.classNames.length > maxLabel) return options.classNames;
      return Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
    },
  };
}
