/**
 * The binary format of uploaded targets (CoOpt step 6), little-endian:
 *
 *   0   "COPT"            magic
 *   4   u16 version       1
 *   6   u8  dtype         1 = float32, 2 = float16
 *   7   u8  reserved      0
 *   8   u32 count         rows (samples)
 *   12  u32 dim           target dimension n
 *   16  u32[count]        sample ids
 *   ..  dtype[count*dim]  targets, row-major
 *   ..  u32 crc32         of every byte before it
 */
export const TARGET_CODEC_VERSION = 1;
export const TARGET_HEADER_BYTES = 16;

export type TargetDtype = 'float32' | 'float16';

export interface TargetBatch {
  ids: Uint32Array;
  dim: number;
  /** Always float32 in memory; float16 is only an encoding. */
  values: Float32Array;
}

export class TargetCodecError extends Error {}

const MAGIC = [0x43, 0x4f, 0x50, 0x54];
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

export function encodedTargetBytes(count: number, dim: number, dtype: TargetDtype): number {
  return TARGET_HEADER_BYTES + 4 * count + count * dim * (dtype === 'float32' ? 4 : 2) + 4;
}

export function encodeTargets(batch: TargetBatch, dtype: TargetDtype = 'float32'): Uint8Array {
  const count = batch.ids.length;
  if (batch.values.length !== count * batch.dim) {
    throw new TargetCodecError(`${batch.values.length} values do not fill ${count} rows of ${batch.dim}`);
  }
  const out = new Uint8Array(encodedTargetBytes(count, batch.dim, dtype));
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(4, TARGET_CODEC_VERSION, true);
  view.setUint8(6, dtype === 'float32' ? 1 : 2);
  view.setUint32(8, count, true);
  view.setUint32(12, batch.dim, true);
  let o = TARGET_HEADER_BYTES;
  for (const id of batch.ids) {
    view.setUint32(o, id, true);
    o += 4;
  }
  for (const v of batch.values) {
    if (dtype === 'float32') {
      view.setFloat32(o, v, true);
      o += 4;
    } else {
      view.setUint16(o, floatToHalf(v), true);
      o += 2;
    }
  }
  view.setUint32(o, crc32(out.subarray(0, o)), true);
  return out;
}

export interface DecodeOptions {
  /** A faster CRC-32 where the platform has one (Node's zlib.crc32); same results as `crc32`. */
  crc32?: (bytes: Uint8Array) => number;
}

/** What a target header says, once it is checked against the upload's length. */
export interface TargetHeader {
  dtype: TargetDtype;
  count: number;
  dim: number;
  /** Where the values start: after the header and the ids. */
  valuesStart: number;
  /** Bytes before the checksum. */
  end: number;
}

/**
 * Reads the header in `bytes` (its first TARGET_HEADER_BYTES): the magic, version and dtype are
 * checked; where the parts lie follows from the rows it declares.
 */
export function parseTargetHeader(bytes: Uint8Array): TargetHeader {
  if (MAGIC.some((m, i) => bytes[i] !== m)) throw new TargetCodecError('not a CoOpt target file (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, TARGET_HEADER_BYTES);
  const version = view.getUint16(4, true);
  if (version !== TARGET_CODEC_VERSION) throw new TargetCodecError(`target format version ${version} is not supported`);
  const code = view.getUint8(6);
  if (code !== 1 && code !== 2) throw new TargetCodecError(`unknown target dtype code ${code}`);
  const dtype: TargetDtype = code === 1 ? 'float32' : 'float16';
  const count = view.getUint32(8, true);
  const dim = view.getUint32(12, true);
  const end = encodedTargetBytes(count, dim, dtype) - 4;
  return { dtype, count, dim, valuesStart: TARGET_HEADER_BYTES + 4 * count, end };
}

/**
 * Checks the header in `bytes` (at least its first TARGET_HEADER_BYTES) against an upload of
 * `length` bytes: the magic, version, dtype, and that the rows it declares fill exactly that many.
 */
export function readTargetHeader(bytes: Uint8Array, length: number): TargetHeader {
  if (length < TARGET_HEADER_BYTES + 4) throw new TargetCodecError(`${length} bytes is shorter than a target header`);
  const header = parseTargetHeader(bytes);
  const expected = header.end + 4;
  if (length !== expected) {
    throw new TargetCodecError(
      `header says ${header.count} rows of ${header.dim} ${header.dtype} (${expected} bytes) but the upload is ${length} bytes`,
    );
  }
  return header;
}

/** The sample ids of a checked header, read from `bytes` (the upload, or at least up to its values). */
export function readTargetIds(bytes: Uint8Array, header: TargetHeader): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, header.valuesStart);
  const ids = new Uint32Array(header.count);
  for (let i = 0, o = TARGET_HEADER_BYTES; i < header.count; i++, o += 4) ids[i] = view.getUint32(o, true);
  return ids;
}

/** Compares the checksum stored after byte `end` with the CRC-32 of the bytes before it. */
export function checkTargetChecksum(stored: number, computed: number): void {
  if (stored !== computed) throw new TargetCodecError('checksum mismatch: the upload is corrupted');
}

/** A decoded upload: its rows, the dtype it was sent in and the CRC-32 it carried (checked). */
export type DecodedTargets = TargetBatch & { dtype: TargetDtype; checksum: number };

/** Decodes and checks a target upload; every malformation is a TargetCodecError that says what is wrong. */
export function decodeTargets(bytes: Uint8Array, options: DecodeOptions = {}): DecodedTargets {
  const header = readTargetHeader(bytes, bytes.length);
  const { dtype, count, dim, end } = header;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const checksum = view.getUint32(end, true);
  checkTargetChecksum(checksum, (options.crc32 ?? crc32)(bytes.subarray(0, end)));
  const ids = readTargetIds(bytes, header);
  let o = header.valuesStart;
  if (dtype === 'float32' && LITTLE_ENDIAN) {
    // The common case on every current platform: a view of the upload's own bytes where they are
    // 4-byte aligned, else one copy; never a DataView read per value.
    const start = bytes.byteOffset + o;
    const n = count * dim;
    const values =
      start % 4 === 0
        ? new Float32Array(bytes.buffer, start, n)
        : new Float32Array(bytes.buffer.slice(start, start + 4 * n));
    return { ids, dim, values, dtype, checksum };
  }
  const values = new Float32Array(count * dim);
  for (let i = 0; i < values.length; i++) {
    if (dtype === 'float32') {
      values[i] = view.getFloat32(o, true);
      o += 4;
    } else {
      values[i] = halfToFloat(view.getUint16(o, true));
      o += 2;
    }
  }
  return { ids, dim, values, dtype, checksum };
}

/** What the server checks of an upload beyond its format: its ids, its row width and its first non-finite value. */
export interface CheckedTargets {
  ids: Uint32Array;
  dim: number;
  /** The index of the first NaN or infinite value, or -1 when every value is finite. */
  firstNonFinite: number;
  /** That value; NaN when there is none. */
  nonFiniteValue: number;
  /** The CRC-32 the upload carries, checked against its bytes. */
  checksum: number;
}

/** A decoded upload's checks (the stream decoder gives the same without the values). */
export function checkDecodedTargets(batch: TargetBatch & { checksum: number }): CheckedTargets {
  const { ids, dim, values, checksum } = batch;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    // x - x is NaN exactly for NaN and +-Infinity, and far cheaper than Number.isFinite on typed arrays.
    if (x - x !== 0) return { ids, dim, firstNonFinite: i, nonFiniteValue: x, checksum };
  }
  return { ids, dim, firstNonFinite: -1, nonFiniteValue: Number.NaN, checksum };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), as zlib computes it; pass the previous value to continue over more bytes. */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half, round to nearest even; overflow becomes infinity. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | half;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
