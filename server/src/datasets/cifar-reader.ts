import { ByteReader } from './byte-reader.ts';
import type { ByteSource } from './byte-source.ts';
import { DatasetFileError } from './dataset-file-error.ts';
import type { SampleBatch, SampleStream } from './sample-stream.ts';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE;

export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

export type CifarVariant = 10 | 100;

/**
 * Which CIFAR layout a batch file has: CIFAR-10 records are 1 label byte + 3072 pixel bytes,
 * CIFAR-100 records 2 label bytes (coarse, fine) + 3072. The file size decides when only one fits.
 */
function detectVariant(source: ByteSource): CifarVariant {
  const size = source.size;
  const fits10 = size !== null && size > 0 && size % (IMAGE_BYTES + 1) === 0;
  const fits100 = size !== null && size > 0 && size % (IMAGE_BYTES + 2) === 0;
  if (fits10 && !fits100) return 10;
  if (fits100 && !fits10) return 100;
  throw new DatasetFileError(
    source.name,
    null,
    size === null
      ? 'cannot tell CIFAR-10 from CIFAR-100 without the file size; give the variant explicitly'
      : `a size of ${size} bytes is not a whole number of CIFAR-10 (3073-byte) or CIFAR-100 (3074-byte) records`,
  );
}

/** Streams CIFAR-10/100 binary batches, converting each record from CHW planes to HWC. */
export async function readCifar(
  sources: ByteSource[],
  options: { batchSize: number; variant?: CifarVariant },
): Promise<SampleStream> {
  const variant = options.variant ?? detectVariant(sources[0] as ByteSource);
  const labelBytes = variant === 10 ? 1 : 2;
  const record = labelBytes + IMAGE_BYTES;
  const sizes = sources.map((s) => s.size);
  const total = sizes.every((s): s is number => s !== null && s % record === 0)
    ? sizes.reduce((a, s) => a + s / record, 0)
    : null;

  async function* batches(): AsyncIterable<SampleBatch> {
    for (const source of sources) {
      const reader = await ByteReader.open(source);
      for (;;) {
        const start = reader.offset;
        const raw = await reader.readUpTo(options.batchSize * record);
        if (raw.length === 0) break;
        if (raw.length % record !== 0) {
          const partial = start + Math.floor(raw.length / record) * record;
          throw reader.error(`truncated: the last record is ${raw.length % record} of ${record} bytes`, partial);
        }
        const n = raw.length / record;
        const pixels = new Uint8Array(n * IMAGE_BYTES);
        const labels = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const base = i * record;
          const label = raw[base + labelBytes - 1] as number;
          if (label >= variant) {
            throw reader.error(
              `label ${label} is outside 0..${variant - 1}: is this a CIFAR-${variant === 10 ? 100 : 10} file?`,
              start + base,
            );
          }
          labels[i] = label;
          const img = raw.subarray(base + labelBytes, base + record);
          const out = i * IMAGE_BYTES;
          for (let p = 0; p < PLANE; p++) {
            pixels[out + 3 * p] = img[p] as number;
            pixels[out + 3 * p + 1] = img[PLANE + p] as number;
            pixels[out + 3 * p + 2] = img[2 * PLANE + p] as number;
          }
        }
        yield { count: n, pixels, labels };
      }
    }
  }

  return {
    shape: { height: SIDE, width: SIDE, channels: 3 },
    total,
    batches: batches(),
    classNames: () => (variant === 10 ? CIFAR10_CLASSES : Array.from({ length: 100 }, (_, i) => String(i))),
  };
}
