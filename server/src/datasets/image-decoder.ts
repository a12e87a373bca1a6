import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { MAX_IMAGE_SIDE } from './sample-stream.ts';

export interface DecodedImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** HWC uint8 */
  data: Uint8Array;
}

export type ImageKind = 'png' | 'jpeg';

export function sniffImage(bytes: Uint8Array): ImageKind | null {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47)
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

export class ImageDecodeError extends Error {}

/** Decodes PNG or JPEG to 8-bit gray or RGB; alpha is dropped. */
export function decodeImage(bytes: Buffer, kind: ImageKind): DecodedImage {
  try {
    return kind === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(`cannot decode ${kind.toUpperCase()}: ${err instanceof Error ? err.message : err}`);
  }
}

function checkSide(width: number, height: number): void {
  if (width < 1 || height < 1 || width > MAX_IMAGE_SIDE * 4 || height > MAX_IMAGE_SIDE * 4) {
    throw new ImageDecodeError(`image of ${width}x${height} is outside 1..${MAX_IMAGE_SIDE * 4} pixels per side`);
  }
}

function decodePng(bytes: Buffer): DecodedImage {
  // IHDR sits right after the signature; check the size before allocating for it.
  if (bytes.length >= 24) checkSide(bytes.readUInt32BE(16), bytes.readUInt32BE(20));
  const png = PNG.sync.read(bytes);
  const gray = png.colorType === 0 || png.colorType === 4;
  const n = png.width * png.height;
  const channels = gray ? 1 : 3;
  const data = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) data[i * channels + c] = png.data[i * 4 + c] as number;
  }
  return { width: png.width, height: png.height, channels, data };
}

function decodeJpeg(bytes: Buffer): DecodedImage {
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    maxResolutionInMP: 64,
    maxMemoryUsageInMB: 256,
  });
  checkSide(img.width, img.height);
  return { width: img.width, height: img.height, channels: 3, data: img.data };
}

/** Bilinear resize plus gray<->RGB conversion into the dataset's shape. */
export function toShape(img: DecodedImage, width: number, height: number, channels: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  const sx = img.width / width;
  const sy = img.height / height;
  const sample = (x: number, y: number, c: number) => {
    const src = img.channels === 1 ? 0 : c;
    return img.data[(y * img.width + x) * img.channels + src] as number;
  };
  for (let y = 0; y < height; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(img.height - 1, Math.floor(fy));
    const y1 = Math.min(img.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(img.width - 1, Math.floor(fx));
      const x1 = Math.min(img.width - 1, x0 + 1);
      const wx = fx - x0;
      const rgb = [0, 0, 0];
      const cs = channels === 1 && img.channels === 3 ? 3 : channels;
      for (let c = 0; c < cs; c++) {
        const top = sample(x0, y0, c) * (1 - wx) + sample(x1, y0, c) * wx;
        const bottom = sample(x0, y1, c) * (1 - wx) + sample(x1, y1, c) * wx;
        rgb[c] = top * (1 - wy) + bottom * wy;
      }
      const base = (y * width + x) * channels;
      if (channels === 1 && img.channels === 3) {
        out[base] = Math.round(0.299 * (rgb[0] as number) + 0.587 * (rgb[1] as number) + 0.114 * (rgb[2] as number));
      } else {
        for (let c = 0; c < channels; c++) out[base + c] = Math.round(rgb[c] as number);
      }
    }
  }
  return out;
}
