import { describe, expect, it } from 'vitest';
import { SeededRandom } from './seeded-random.ts';
import { crc32, decodeTargets, encodeTargets } from './target-codec.ts';
import { TargetStreamCheck } from './target-stream-check.ts';

const encoded = (rows: number, dim: number, seed: number) => {
  const rng = new SeededRandom(seed);
  return encodeTargets({
    ids: Uint32Array.from({ length: rows }, (_, i) => i * 3),
    dim,
    values: Float32Array.from({ length: rows * dim }, () => rng.normal()),
  });
};

/** Feeds `bytes` in chunks cut at seeded random places, some a byte or two long. */
function feedInChunks(bytes: Uint8Array, seed: number): TargetStreamCheck {
  const rng = new SeededRandom(seed);
  const check = new TargetStreamCheck();
  for (let at = 0; at < bytes.length; ) {
    const size = rng.next() < 0.3 ? 1 + Math.floor(rng.next() * 3) : 1 + Math.floor(rng.next() * 200);
    check.feed(bytes.subarray(at, Math.min(bytes.length, at + size)));
    at += size;
  }
  return check;
}

/** The last four bytes hold the CRC of the rest. */
const storedCrc = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true);

describe('TargetStreamCheck', () => {
  it('gives the checksum decodeTargets would compute, however the body is cut', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const bytes = encoded(1 + (seed % 7), 1 + (seed % 5), seed);
      const check = feedInChunks(bytes, seed);
      expect(check.checksum).toBe(crc32(bytes.subarray(0, bytes.length - 4)));
      expect(check.checksum).toBe(storedCrc(bytes));
      expect(check.firstNonFinite).toBe(-1);
      expect(decodeTargets(bytes, { checksum: check.checksum as number }).values.length).toBe(
        (1 + (seed % 7)) * (1 + (seed % 5)),
      );
    }
  });

  it('finds the first NaN or infinity at any position, split across chunks or not', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rows = 5;
      const dim = 3;
      const bytes = encoded(rows, dim, seed);
      const values = new Float32Array(bytes.buffer.slice(16 + 4 * rows, 16 + 4 * rows + 4 * rows * dim));
      const bad = [seed % values.length, (seed * 7) % values.length].sort((a, b) => a - b);
      const kinds = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
      for (const [k, i] of bad.entries()) values[i] = kinds[(seed + k) % 3] as number;
      bytes.set(new Uint8Array(values.buffer), 16 + 4 * rows);
      expect(feedInChunks(bytes, seed).firstNonFinite).toBe(bad[0]);
    }
  });

  it('reads whole chunks as words where their memory is aligned, and byte by byte where it is not', () => {
    const rows = 300;
    const dim = 64;
    const bytes = encoded(rows, dim, 4);
    const bad = rows * dim - 5;
    new DataView(bytes.buffer).setFloat32(16 + 4 * rows + 4 * bad, Number.NaN, true);
    // Re-sign the body, so only the value is wrong.
    new DataView(bytes.buffer).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    for (const body of [bytes, shifted.subarray(1)]) {
      const check = new TargetStreamCheck();
      for (let at = 0; at < body.length; at += 65_536) check.feed(body.subarray(at, at + 65_536));
      expect(check.firstNonFinite).toBe(bad);
      expect(check.checksum).toBe(storedCrc(bytes));
    }
  });

  it('does not take large finite values, subnormals or negative zero for non-finite ones', () => {
    const bytes = encodeTargets({
      ids: Uint32Array.of(0),
      dim: 5,
      values: Float32Array.of(3.4e38, -3.4e38, 1e-45, -0, 2 ** 127),
    });
    expect(feedInChunks(bytes, 3).firstNonFinite).toBe(-1);
  });

  it('says nothing until every byte is in, and nothing for a body decodeTargets must refuse', () => {
    const bytes = encoded(4, 4, 9);
    const partial = new TargetStreamCheck();
    partial.feed(bytes.subarray(0, bytes.length - 1));
    expect(partial.checksum).toBeUndefined();
    expect(partial.firstNonFinite).toBeUndefined();

    const longer = new TargetStreamCheck();
    longer.feed(bytes);
    longer.feed(Uint8Array.of(0));
    expect(longer.checksum).toBeUndefined();

    const half = new TargetStreamCheck();
    half.feed(encodeTargets({ ids: Uint32Array.of(1), dim: 2, values: Float32Array.of(1, 2) }, 'float16'));
    expect(half.checksum).toBeUndefined();
    expect(half.firstNonFinite).toBeUndefined();

    const wrongMagic = Uint8Array.from(bytes);
    wrongMagic[0] = 0;
    const refused = new TargetStreamCheck();
    refused.feed(wrongMagic);
    expect(refused.checksum).toBeUndefined();
  });
});
