import zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/** Builders for small, real dataset files in each supported format, for tests and benchmarks. */

/** Deterministic pixel values so that round trips can be checked byte for byte. */
export function pixelsFor(count: number, bytesPerImage: number, seed = 1): Uint8Array {
  const out = new Uint8Array(count * bytesPerImage);
  for (let i = 0; i < out.length; i++) out[i] = (i * 31 + seed * 17 + Math.floor(i / bytesPerImage) * 7) & 0xff;
  return out;
}

export function idxImages(
  count: number,
  height: number,
  width: number,
  pixels = pixelsFor(count, height * width),
): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x00000803, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(height, 8);
  header.writeUInt32BE(width, 12);
  return Buffer.concat([header, pixels]);
}

export function idxLabels(labels: number[]): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x00000801, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

export const gzip = (b: Uint8Array) => zlib.gzipSync(b);

/** CIFAR-10 records: label byte, then 1024 R, 1024 G, 1024 B bytes. `hwc` is the expected import. */
export function cifar10Batch(labels: number[]): { file: Buffer; hwc: Uint8Array } {
  const records: Buffer[] = [];
  const hwc = new Uint8Array(labels.length * 3072);
  labels.forEach((label, n) => {
    const rec = Buffer.alloc(3073);
    rec[0] = label;
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) {
        const v = (n * 13 + p * 3 + c * 101) & 0xff;
        rec[1 + c * 1024 + p] = v;
        hwc[n * 3072 + p * 3 + c] = v;
      }
    }
    records.push(rec);
  });
  return { file: Buffer.concat(records), hwc };
}

export function pngImage(width: number, height: number, gray: boolean, seed = 0): { file: Buffer; pixels: Uint8Array } {
  const png = new PNG({ width, height, colorType: gray ? 0 : 2, inputColorType: 6, inputHasAlpha: true });
  const channels = gray ? 1 : 3;
  const pixels = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    const v = [(i * 5 + seed) & 0xff, (i * 11 + seed) & 0xff, (i * 17 + seed) & 0xff];
    for (let c = 0; c < 3; c++) png.data[i * 4 + c] = gray ? (v[0] as number) : (v[c] as number);
    png.data[i * 4 + 3] = 255;
    for (let c = 0; c < channels; c++) pixels[i * channels + c] = v[c] as number;
  }
  return { file: PNG.sync.write(png, { colorType: gray ? 0 : 2 }), pixels };
}

export function jpegImage(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 4, 128);
  return jpeg.encode({ data, width, height }, 90).data;
}

export interface TarEntrySpec {
  name: string;
  data?: Buffer;
  type?: '0' | '2' | '5';
  linkName?: string;
}

/** A ustar archive written by hand, so tests can also build the hostile ones real tools refuse to. */
export function tarArchive(entries: TarEntrySpec[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write(e.type ?? '0', 156);
    if (e.linkName) h.write(e.linkName, 157, 100);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
