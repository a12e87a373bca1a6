import { crc32, encodedTargetBytes, TARGET_HEADER_BYTES } from './target-codec.ts';

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Where the parts of a float32 upload lie, read from its header; null for anything else. */
interface Layout {
  /** Bytes before the checksum. */
  end: number;
  valuesStart: number;
  valuesEnd: number;
}

function layoutOf(header: Uint8Array): Layout | null {
  const view = new DataView(header.buffer, header.byteOffset, TARGET_HEADER_BYTES);
  const magic = view.getUint32(0, false) === 0x434f5054;
  if (!magic || view.getUint16(4, true) !== 1 || view.getUint8(6) !== 1) return null;
  const count = view.getUint32(8, true);
  const dim = view.getUint32(12, true);
  const total = encodedTargetBytes(count, dim, 'float32');
  const valuesStart = TARGET_HEADER_BYTES + 4 * count;
  return { end: total - 4, valuesStart, valuesEnd: valuesStart + 4 * count * dim };
}

/**
 * Checks a float32 target upload (target-codec.ts's format) chunk by chunk while it arrives: the
 * CRC-32 of every byte before the checksum, and the first value that is NaN or infinite. When the
 * last chunk is in, `decodeTargets` is given the checksum and only reads the header and the ids,
 * so the checks cost no time after the body's last byte. Whatever is malformed (magic, version,
 * dtype, size) is left for `decodeTargets` to name; this only says nothing then.
 */
export class TargetStreamCheck {
  private readonly header = new Uint8Array(TARGET_HEADER_BYTES);
  private received = 0;
  private layout: Layout | null = null;
  private crc = 0;
  /** The previous chunk's last byte: a value's third byte when a chunk starts at its fourth. */
  private lastByte = 0;
  private firstBad = -1;

  constructor(private readonly crc32Of: (bytes: Uint8Array, previous: number) => number = crc32) {}

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
    const from = Math.max(at, TARGET_HEADER_BYTES);
    const to = Math.min(this.received, layout.end);
    if (to > from) this.crc = this.crc32Of(chunk.subarray(from - at, to - at), this.crc);
    if (this.firstBad < 0) this.scanValues(chunk, at, layout);
    this.lastByte = chunk[chunk.byteLength - 1] ?? this.lastByte;
  }

  /**
   * A float32 is NaN or infinite exactly when its exponent bits are all ones: bits 0-6 of its
   * fourth (little-endian) byte and bit 7 of its third. A value split between chunks is found by
   * its fourth byte; the values wholly inside a chunk are read as 32-bit words: through a
   * Uint32Array where the chunk's memory allows (4-byte aligned, a little-endian platform), else
   * through a DataView.
   */
  private scanValues(chunk: Uint8Array, at: number, layout: Layout): void {
    const end = Math.min(this.received, layout.valuesEnd);
    // The first value whose fourth byte is in this chunk.
    const first = Math.max(at, layout.valuesStart + 3);
    let p = first + ((((layout.valuesStart + 3 - first) % 4) + 4) % 4);
    if (p < end && p - 3 < at) {
      // It began in an earlier chunk.
      if (this.nonFiniteAt(chunk, at, p)) return;
      p += 4;
    }
    const start = p - 3;
    const words = Math.floor((end - start) / 4);
    if (words <= 0) return;
    const offset = chunk.byteOffset + start - at;
    if (LITTLE_ENDIAN && offset % 4 === 0) {
      const view = new Uint32Array(chunk.buffer, offset, words);
      for (let i = 0; i < words; i++) {
        if (((view[i] as number) & 0x7f800000) === 0x7f800000) {
          this.firstBad = (start - layout.valuesStart) / 4 + i;
          return;
        }
      }
      return;
    }
    // Unaligned (a chunk's values need not start on a 4-byte boundary): little-endian words
    // through a DataView, which reads them at any offset.
    const view = new DataView(chunk.buffer, offset, words * 4);
    for (let i = 0; i < words; i++) {
      if ((view.getUint32(i * 4, true) & 0x7f800000) === 0x7f800000) {
        this.firstBad = (start - layout.valuesStart) / 4 + i;
        return;
      }
    }
  }

  /** Whether the value whose fourth byte is at `p` (this chunk starting at `at`) is NaN or infinite; records it if so. */
  private nonFiniteAt(chunk: Uint8Array, at: number, p: number): boolean {
    if (((chunk[p - at] as number) & 0x7f) !== 0x7f) return false;
    const third = p - 1 >= at ? (chunk[p - 1 - at] as number) : this.lastByte;
    if (!(third & 0x80)) return false;
    this.firstBad = (p - 3 - (this.layout as Layout).valuesStart) / 4;
    return true;
  }

  /** The CRC-32 of every byte before the checksum, once all of them arrived as the header said; else undefined. */
  get checksum(): number | undefined {
    return this.layout && this.received === this.layout.end + 4 ? this.crc : undefined;
  }

  /** The index of the first value that is not finite (-1 for none), once every value arrived; else undefined. */
  get firstNonFinite(): number | undefined {
    if (!this.layout) return undefined;
    if (this.firstBad >= 0) return this.firstBad;
    return this.received === this.layout.end + 4 ? -1 : undefined;
  }
}
