import {
  type CheckedTargets,
  checkTargetChecksum,
  crc32,
  parseTargetHeader,
  readTargetHeader,
  readTargetIds,
  TARGET_HEADER_BYTES,
  TargetCodecError,
  type TargetHeader,
} from './target-codec.ts';

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Where the parts of a float32 upload lie, read from its header; null for anything else. */
interface Layout {
  /** Bytes before the checksum. */
  end: number;
  valuesStart: number;
  valuesEnd: number;
}

function layoutOf(header: Uint8Array): Layout | null {
  let parsed: TargetHeader;
  try {
    parsed = parseTargetHeader(header);
  } catch (err) {
    if (err instanceof TargetCodecError) return null;
    throw err;
  }
  if (parsed.dtype !== 'float32') return null;
  const { end, valuesStart, count, dim } = parsed;
  return { end, valuesStart, valuesEnd: valuesStart + 4 * count * dim };
}

const EXPONENT = 0x7f800000;
/** Added to a word's exponent bits, it sets bit 31 exactly when they are all ones. */
const CARRY = 0x00800000;

/**
 * The index of the first word whose float32 exponent bits are all ones (NaN or infinite), or -1.
 * The common case, every value finite, is one pass that ORs (exponent + CARRY) over eight words
 * at a time with no branch per value: about twice as fast as testing each value. Only when bit 31
 * came out set is the chunk searched again for where.
 */
export function firstNonFiniteWord(words: Uint32Array): number {
  const n = words.length;
  const whole = n - (n % 8);
  let any = 0;
  for (let i = 0; i < whole; i += 8) {
    any |=
      (((words[i] as number) & EXPONENT) + CARRY) |
      (((words[i + 1] as number) & EXPONENT) + CARRY) |
      (((words[i + 2] as number) & EXPONENT) + CARRY) |
      (((words[i + 3] as number) & EXPONENT) + CARRY) |
      (((words[i + 4] as number) & EXPONENT) + CARRY) |
      (((words[i + 5] as number) & EXPONENT) + CARRY) |
      (((words[i + 6] as number) & EXPONENT) + CARRY) |
      (((words[i + 7] as number) & EXPONENT) + CARRY);
  }
  for (let i = whole; i < n; i++) any |= ((words[i] as number) & EXPONENT) + CARRY;
  if (!(any & 0x80000000)) return -1;
  for (let i = 0; i < n; i++) if (((words[i] as number) & EXPONENT) === EXPONENT) return i;
  return -1;
}

const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);

/**
 * Decodes and checks a float32 target upload (target-codec.ts's format) chunk by chunk while it
 * arrives, without keeping its values: it keeps the header, the ids and the stored checksum, and
 * computes the CRC-32 of every byte before the checksum and finds the first value that is NaN or
 * infinite on the way. So when the last chunk is in, `finish` costs no more than reading the ids,
 * and the body never has to be held whole.
 *
 * Only a float32 body with a readable header is decoded this way (`decodesAlone`); for anything
 * else (float16, a bad magic or version) the caller keeps the body for `decodeTargets`, which
 * names what is wrong.
 */
export class TargetStreamDecoder {
  private readonly header = new Uint8Array(TARGET_HEADER_BYTES);
  private received = 0;
  private layout: Layout | null = null;
  /** Copies of the bytes from the header's end to the values' start: the ids. */
  private idChunks: Uint8Array[] = [];
  private readonly storedChecksum = new Uint8Array(4);
  private crc = 0;
  /** The last four bytes before the current chunk: a split value's first bytes. */
  private readonly recent = new Uint8Array(4);
  private firstBad = -1;
  private badValue = Number.NaN;
  /** Scratch for the words of a chunk whose values are not 4-byte aligned. */
  private aligned = new Uint32Array(0);

  constructor(private readonly crc32Of: (bytes: Uint8Array, previous: number) => number = crc32) {}

  /** True once the header shows a float32 upload this decodes alone; false for any other; undefined before. */
  get decodesAlone(): boolean | undefined {
    return this.received < TARGET_HEADER_BYTES ? undefined : this.layout !== null;
  }

  feed(chunk: Uint8Array): void {
    const at = this.received;
    this.received += chunk.byteLength;
    if (at < TARGET_HEADER_BYTES) {
      this.header.set(chunk.subarray(0, TARGET_HEADER_BYTES - at), at);
      if (this.received < TARGET_HEADER_BYTES) return;
      this.layout = layoutOf(this.header);
      // The header's bytes come first in the checksum, from however many chunks they arrived in.
      if (this.layout) this.crc = this.crc32Of(this.header, 0);
    }
    const layout = this.layout;
    if (!layout) return;
    this.keep(chunk, at, layout);
    const from = Math.max(at, TARGET_HEADER_BYTES);
    const to = Math.min(this.received, layout.end);
    if (to > from) this.crc = this.crc32Of(chunk.subarray(from - at, to - at), this.crc);
    if (this.firstBad < 0) this.scanValues(chunk, at, layout);
    this.remember(chunk);
  }

  /**
   * The checked upload, once every byte is in: its size against its header, its checksum, its ids
   * and its first non-finite value. Throws TargetCodecError naming the first problem. Only for a
   * body that `decodesAlone`.
   */
  finish(): CheckedTargets {
    if (!this.layout) throw new Error('only a float32 upload is decoded from its stream');
    const header = readTargetHeader(this.header, this.received);
    const stored = new DataView(this.storedChecksum.buffer).getUint32(0, true);
    checkTargetChecksum(stored, this.crc);
    const prefix = new Uint8Array(header.valuesStart);
    prefix.set(this.header, 0);
    let o = TARGET_HEADER_BYTES;
    for (const c of this.idChunks) {
      prefix.set(c, o);
      o += c.byteLength;
    }
    return {
      ids: readTargetIds(prefix, header),
      dim: header.dim,
      firstNonFinite: this.firstBad,
      nonFiniteValue: this.badValue,
      checksum: stored,
    };
  }

  /** Copies this chunk's share of the ids and of the stored checksum. */
  private keep(chunk: Uint8Array, at: number, layout: Layout): void {
    const idFrom = Math.max(at, TARGET_HEADER_BYTES);
    const idTo = Math.min(this.received, layout.valuesStart);
    if (idTo > idFrom) this.idChunks.push(chunk.slice(idFrom - at, idTo - at));
    const sumFrom = Math.max(at, layout.end);
    const sumTo = Math.min(this.received, layout.end + 4);
    if (sumTo > sumFrom) this.storedChecksum.set(chunk.subarray(sumFrom - at, sumTo - at), sumFrom - layout.end);
  }

  /** Keeps the stream's last four bytes. */
  private remember(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (n >= 4) {
      this.recent.set(chunk.subarray(n - 4));
      return;
    }
    this.recent.copyWithin(0, n);
    this.recent.set(chunk, 4 - n);
  }

  /**
   * A float32 is NaN or infinite exactly when its exponent bits are all ones: bits 0-6 of its
   * fourth (little-endian) byte and bit 7 of its third. A value split between chunks is found by
   * its fourth byte; the values wholly inside a chunk are read as 32-bit words (firstNonFiniteWord).
   */
  private scanValues(chunk: Uint8Array, at: number, layout: Layout): void {
    const end = Math.min(this.received, layout.valuesEnd);
    // The first value whose fourth byte is in this chunk.
    const first = Math.max(at, layout.valuesStart + 3);
    let p = first + ((((layout.valuesStart + 3 - first) % 4) + 4) % 4);
    if (p < end && p - 3 < at) {
      // It began in an earlier chunk.
      if (this.splitValueIsBad(chunk, at, p, layout)) return;
      p += 4;
    }
    const start = p - 3;
    const words = Math.floor((end - start) / 4);
    if (words <= 0) return;
    const offset = chunk.byteOffset + start - at;
    let view: Uint32Array;
    if (LITTLE_ENDIAN && offset % 4 === 0) view = new Uint32Array(chunk.buffer, offset, words);
    else {
      // A chunk's values need not start on a 4-byte boundary (a socket cuts the body anywhere):
      // they are copied as little-endian words into an aligned scratch buffer first.
      if (this.aligned.length < words) this.aligned = new Uint32Array(Math.max(words, 2 * this.aligned.length));
      view = this.aligned.subarray(0, words);
      if (LITTLE_ENDIAN) new Uint8Array(view.buffer, 0, words * 4).set(new Uint8Array(chunk.buffer, offset, words * 4));
      else {
        const data = new DataView(chunk.buffer, offset, words * 4);
        for (let i = 0; i < words; i++) view[i] = data.getUint32(i * 4, true);
      }
    }
    const i = firstNonFiniteWord(view);
    if (i >= 0) this.record(start, i, view[i] as number, layout);
  }

  /** Whether the value whose fourth byte is at `p` (this chunk starting at `at`) is NaN or infinite; records it if so. */
  private splitValueIsBad(chunk: Uint8Array, at: number, p: number, layout: Layout): boolean {
    const byte = (q: number) => (q >= at ? (chunk[q - at] as number) : (this.recent[4 - (at - q)] as number));
    const word = (byte(p) << 24) | (byte(p - 1) << 16) | (byte(p - 2) << 8) | byte(p - 3);
    if ((word & 0x7f800000) !== 0x7f800000) return false;
    this.record(p - 3, 0, word, layout);
    return true;
  }

  private record(start: number, i: number, word: number, layout: Layout): void {
    this.firstBad = (start - layout.valuesStart) / 4 + i;
    bits[0] = word;
    this.badValue = asFloat[0] as number;
  }
}
