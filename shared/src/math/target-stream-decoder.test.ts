import { describe, expect, it } from 'vitest';
import { SeededRandom } from './seeded-random.ts';
import { type CheckedTargets, checkDecodedTargets, crc32, decodeTargets, encodeTargets } from './target-codec.ts';
import { firstNonFiniteWord, TargetStreamDecoder } from './target-stream-decoder.ts';

const encoded = (rows: number, dim: number, seed: number) => {
  const rng = new SeededRandom(seed);
  return encodeTargets({
    ids: Uint32Array.from({ length: rows }, (_, i) => i * 3 + seed),
    dim,
    values: Float32Array.from({ length: rows * dim }, () => rng.normal()),
  });
};

/** Feeds `bytes` in chunks cut at seeded random places, some a byte or two long. */
function feedInChunks(bytes: Uint8Array, seed: number): TargetStreamDecoder {
  const rng = new SeededRandom(seed);
  const decoder = new TargetStreamDecoder();
  for (let at = 0; at < bytes.length; ) {
    const size = rng.next() < 0.3 ? 1 + Math.floor(rng.next() * 3) : 1 + Math.floor(rng.next() * 200);
    decoder.feed(bytes.subarray(at, Math.min(bytes.length, at + size)));
    at += size;
  }
  return decoder;
}

/** The same checks from the whole body, decoded at once. */
const whole = (bytes: Uint8Array): CheckedTargets => checkDecodedTargets(decodeTargets(bytes));

/** Signs the body again, so only what was changed in it is wrong. */
const resign = (bytes: Uint8Array) =>
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(
    bytes.length - 4,
    crc32(bytes.subarray(0, bytes.length - 4)),
    true,
  );

const codecError = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

describe('TargetStreamDecoder', () => {
  it('gives the ids and checks decodeTargets would, however the body is cut', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const bytes = encoded(1 + (seed % 7), 1 + (seed % 5), seed);
      const decoder = feedInChunks(bytes, seed);
      expect(decoder.decodesAlone).toBe(true);
      const streamed = decoder.finish();
      expect(streamed).toEqual(whole(bytes));
      expect(streamed.firstNonFinite).toBe(-1);
      expect(Array.from(streamed.ids)).toEqual(Array.from({ length: 1 + (seed % 7) }, (_, i) => i * 3 + seed));
    }
  });

  it('finds the first NaN or infinity and its value at any position, split across chunks or not', () => {
    const kinds = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (let seed = 1; seed <= 30; seed++) {
      const rows = 5;
      const dim = 3;
      const bytes = encoded(rows, dim, seed);
      const values = new Float32Array(bytes.buffer.slice(16 + 4 * rows, 16 + 4 * rows + 4 * rows * dim));
      const bad = [seed % values.length, (seed * 7) % values.length].sort((a, b) => a - b);
      for (const [k, i] of bad.entries()) values[i] = kinds[(seed + k) % 3] as number;
      bytes.set(new Uint8Array(values.buffer), 16 + 4 * rows);
      resign(bytes);
      const streamed = feedInChunks(bytes, seed).finish();
      expect(streamed.firstNonFinite).toBe(bad[0]);
      expect(Object.is(streamed.nonFiniteValue, values[bad[0] as number])).toBe(true);
      expect(streamed).toEqual(whole(bytes));
    }
  });

  it('reads a non-finite value cut at each of its bytes, or arriving a byte at a time', () => {
    const rows = 3;
    const dim = 4;
    const kinds = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const [k, kind] of kinds.entries()) {
      const bytes = encoded(rows, dim, k + 1);
      const index = 5;
      const offset = 16 + 4 * rows + 4 * index;
      new DataView(bytes.buffer).setFloat32(offset, kind, true);
      resign(bytes);
      const cuts = [
        [offset + 1],
        [offset + 2],
        [offset + 3],
        [offset + 1, offset + 2, offset + 3],
        [offset - 1, offset + 5],
      ];
      for (const at of cuts) {
        const decoder = new TargetStreamDecoder();
        let from = 0;
        for (const cut of [...at, bytes.length]) {
          decoder.feed(bytes.subarray(from, cut));
          from = cut;
        }
        const streamed = decoder.finish();
        expect(streamed.firstNonFinite).toBe(index);
        expect(Object.is(streamed.nonFiniteValue, kind)).toBe(true);
      }
    }
  });

  it('reads whole chunks as words where their memory is aligned, and through a DataView where it is not', () => {
    const rows = 300;
    const dim = 64;
    const bytes = encoded(rows, dim, 4);
    const bad = rows * dim - 5;
    new DataView(bytes.buffer).setFloat32(16 + 4 * rows + 4 * bad, Number.NEGATIVE_INFINITY, true);
    resign(bytes);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    for (const body of [bytes, shifted.subarray(1)]) {
      const decoder = new TargetStreamDecoder();
      for (let at = 0; at < body.length; at += 65_536) decoder.feed(body.subarray(at, at + 65_536));
      const streamed = decoder.finish();
      expect(streamed.firstNonFinite).toBe(bad);
      expect(streamed.nonFiniteValue).toBe(Number.NEGATIVE_INFINITY);
      expect(streamed.ids).toEqual(decodeTargets(bytes).ids);
    }
  });

  it('finds the first non-finite word at every position of a run, whole groups of eight or not', () => {
    const f = new Float32Array(1);
    const word = (x: number) => {
      f[0] = x;
      return new Uint32Array(f.buffer)[0] as number;
    };
    for (const n of [1, 7, 8, 9, 23, 64]) {
      const finite = Uint32Array.from({ length: n }, (_, i) => word(i % 2 ? 3.4e38 : -(2 ** -149) * i));
      expect(firstNonFiniteWord(finite)).toBe(-1);
      for (let at = 0; at < n; at++) {
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const words = Uint32Array.from(finite);
          words[at] = word(bad);
          if (at + 2 < n) words[at + 2] = word(Number.NaN);
          expect(firstNonFiniteWord(words)).toBe(at);
        }
      }
    }
  });

  it('does not take large finite values, subnormals or negative zero for non-finite ones', () => {
    const bytes = encodeTargets({
      ids: Uint32Array.of(0),
      dim: 5,
      values: Float32Array.of(3.4e38, -3.4e38, 1e-45, -0, 2 ** 127),
    });
    expect(feedInChunks(bytes, 3).finish().firstNonFinite).toBe(-1);
  });

  it('refuses a truncated, longer or corrupted body with the message decodeTargets gives', () => {
    const bytes = encoded(4, 4, 9);
    const flipped = Uint8Array.from(bytes);
    flipped[40] = (flipped[40] as number) ^ 1;
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    for (const body of [bytes.subarray(0, bytes.length - 1), bytes.subarray(0, 30), longer, flipped]) {
      const decoder = feedInChunks(body, 5);
      expect(decoder.decodesAlone).toBe(true);
      const message = codecError(() => decoder.finish());
      expect(message).toMatch(/header says|checksum mismatch/);
      expect(message).toBe(codecError(() => decodeTargets(body)));
    }
  });

  it('says whether it decodes the body alone only once the header is in: float32 with a readable header', () => {
    const bytes = encoded(4, 4, 9);
    const partial = new TargetStreamDecoder();
    partial.feed(bytes.subarray(0, 15));
    expect(partial.decodesAlone).toBeUndefined();
    partial.feed(bytes.subarray(15, 16));
    expect(partial.decodesAlone).toBe(true);

    const half = new TargetStreamDecoder();
    half.feed(encodeTargets({ ids: Uint32Array.of(1), dim: 2, values: Float32Array.of(1, 2) }, 'float16'));
    expect(half.decodesAlone).toBe(false);
    expect(() => half.finish()).toThrow('only a float32 upload');

    const wrongMagic = Uint8Array.from(bytes);
    wrongMagic[0] = 0;
    const refused = new TargetStreamDecoder();
    refused.feed(wrongMagic);
    expect(refused.decodesAlone).toBe(false);
  });
});
