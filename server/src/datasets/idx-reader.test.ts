import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gzip, idxImages, idxLabels, pixelsFor } from '../test/dataset-files.ts';
import { scratchFiles } from '../test/scratch-files.ts';
import { fileSource } from './byte-source.ts';
import { DatasetFileError } from './dataset-file-error.ts';
import { readIdx } from './idx-reader.ts';
import { knownSources } from './known-sources.ts';
import type { SampleStream } from './sample-stream.ts';

const { dir, write } = scratchFiles('idx');

async function drain(stream: SampleStream) {
  const pixels: Uint8Array[] = [];
  const labels: number[] = [];
  for await (const b of stream.batches) {
    pixels.push(b.pixels.slice());
    if (b.labels) labels.push(...b.labels);
  }
  return { pixels: Buffer.concat(pixels), labels };
}

async function importError(images: ReturnType<typeof write>, labels: ReturnType<typeof write> | null) {
  try {
    await drain(await readIdx(images, labels, { batchSize: 4 }));
  } catch (err) {
    return err as DatasetFileError;
  }
  throw new Error('expected the import to fail');
}

describe('IDX reader', () => {
  it.each([
    ['plain', false],
    ['gzipped', true],
  ])('reads %s images and labels in batches', async (_, zipped) => {
    const pixels = pixelsFor(10, 6 * 5);
    const img = idxImages(10, 6, 5, pixels);
    const lab = idxLabels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const stream = await readIdx(
      write(`i-${zipped}`, zipped ? gzip(img) : img),
      write(`l-${zipped}`, zipped ? gzip(lab) : lab),
      {
        batchSize: 3,
      },
    );
    expect(stream.shape).toEqual({ height: 6, width: 5, channels: 1 });
    expect(stream.total).toBe(10);
    const out = await drain(stream);
    expect(Buffer.compare(out.pixels, Buffer.from(pixels))).toBe(0);
    expect(out.labels).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(stream.classNames()).toHaveLength(10);
  });

  it('reads the committed Fashion-MNIST test split: 10,000 images, 1,000 per class', async () => {
    const source = knownSources.find((s) => s.id === 'fashion-mnist-test');
    if (!source) throw new Error('missing source');
    const stream = await readIdx(fileSource(source.images), fileSource(source.labels), {
      batchSize: 4096,
      classNames: source.classNames,
    });
    const out = await drain(stream);
    expect(out.pixels.length).toBe(10_000 * 28 * 28);
    const perClass = new Array(10).fill(0);
    for (const l of out.labels) perClass[l]++;
    expect(perClass).toEqual(new Array(10).fill(1000));
    expect(stream.classNames()?.[9]).toBe('Ankle boot');
  });

  it('rejects a wrong magic number, naming the file and offset 0', async () => {
    const img = idxImages(2, 4, 4);
    img.writeUInt32BE(0x00000801, 0);
    const err = await importError(write('magic', img), null);
    expect(err).toBeInstanceOf(DatasetFileError);
    expect(err.message).toContain(path.join(dir, 'magic'));
    expect(err.message).toContain('byte offset 0');
    expect(err.message).toContain('wrong magic 0x00000801');
  });

  it('rejects a truncated image file with the offset where the data ends', async () => {
    const full = idxImages(10, 4, 4);
    const err = await importError(write('trunc.gz', gzip(full.subarray(0, 16 + 16 * 5 + 3))), null);
    expect(err.message).toMatch(
      /trunc\.gz at byte offset 99: truncated: the header declares 10 images .* ends after 5/,
    );
  });

  it('rejects mismatched image and label counts, naming the label file', async () => {
    const err = await importError(write('img', idxImages(5, 2, 2)), write('lab', idxLabels([1, 2, 3])));
    expect(err.message).toContain(`${path.join(dir, 'lab')} at byte offset 4: holds 3 labels but`);
    expect(err.message).toContain('holds 5 images');
  });

  it('rejects data after the declared images', async () => {
    const err = await importError(write('extra', Buffer.concat([idxImages(2, 2, 2), Buffer.from([1, 2, 3])])), null);
    expect(err.message).toContain('byte offset 24: unexpected data after the last of 2 images');
  });

  it('rejects a corrupt gzip stream', async () => {
    const zipped = gzip(idxImages(50, 8, 8));
    zipped.fill(0xaa, 40, 80);
    const err = await importError(write('corrupt.gz', zipped), null);
    expect(err.message).toMatch(/corrupt\.gz at byte offset \d+: corrupt gzip data/);
  });

  it('rejects a header that declares no images or absurd sizes', async () => {
    expect((await importError(write('zero', idxImages(0, 2, 2, new Uint8Array())), null)).message).toContain(
      'declares 0 images',
    );
    const huge = idxImages(1, 2, 2);
    huge.writeUInt32BE(1 << 20, 8);
    expect((await importError(write('huge', huge), null)).message).toContain('outside 1..1024');
  });
});
