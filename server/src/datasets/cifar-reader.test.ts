import { describe, expect, it } from 'vitest';
import { cifar10Batch } from '../test/dataset-files.ts';
import { scratchFiles } from '../test/scratch-files.ts';
import { readCifar } from './cifar-reader.ts';

const { write } = scratchFiles('cifar');

describe('CIFAR reader', () => {
  it('reads several CIFAR-10 batches, converting CHW planes to HWC', async () => {
    const a = cifar10Batch([3, 1, 4]);
    const b = cifar10Batch([1, 5]);
    const stream = await readCifar([write('data_batch_1.bin', a.file), write('data_batch_2.bin', b.file)], {
      batchSize: 2,
    });
    expect(stream.shape).toEqual({ height: 32, width: 32, channels: 3 });
    expect(stream.total).toBe(5);
    const pixels: Uint8Array[] = [];
    const labels: number[] = [];
    for await (const batch of stream.batches) {
      pixels.push(batch.pixels);
      labels.push(...(batch.labels ?? []));
    }
    expect(labels).toEqual([3, 1, 4, 1, 5]);
    expect(Buffer.compare(Buffer.concat(pixels), Buffer.concat([a.hwc, b.hwc]))).toBe(0);
    expect(stream.classNames()?.[3]).toBe('cat');
  });

  it('detects CIFAR-100 records from the file size and reads the fine label', async () => {
    const rec = Buffer.alloc(3074);
    rec[0] = 7; // coarse
    rec[1] = 42; // fine
    const stream = await readCifar([write('train.bin', Buffer.concat([rec, rec]))], { batchSize: 10 });
    const labels: number[] = [];
    for await (const batch of stream.batches) labels.push(...(batch.labels ?? []));
    expect(labels).toEqual([42, 42]);
  });

  it('rejects a truncated batch with the offset of the partial record', async () => {
    const { file } = cifar10Batch([1, 2, 3]);
    const source = write('short.bin', file.subarray(0, 3073 * 2 + 100));
    const stream = await readCifar([source], { batchSize: 10, variant: 10 });
    const drain = async () => {
      for await (const _ of stream.batches);
    };
    await expect(drain()).rejects.toThrow(
      `${source.name} at byte offset 6146: truncated: the last record is 100 of 3073 bytes`,
    );
  });

  it('rejects a size that fits neither layout, and out-of-range labels', async () => {
    await expect(readCifar([write('odd.bin', Buffer.alloc(5000))], { batchSize: 10 })).rejects.toThrow(
      'a size of 5000 bytes is not a whole number of CIFAR-10',
    );
    const { file } = cifar10Batch([1, 2]);
    file[3073] = 57;
    const stream = await readCifar([write('bad-label.bin', file)], { batchSize: 10, variant: 10 });
    const drain = async () => {
      for await (const _ of stream.batches);
    };
    await expect(drain()).rejects.toThrow('at byte offset 3073: label 57 is outside 0..9');
  });
});
