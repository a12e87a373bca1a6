import { describe, expect, it } from 'vitest';
import { SeededRandom } from './seeded-random.ts';
import { crc32, decodeTargets, encodeTargets, floatToHalf, halfToFloat, TargetCodecError } from './target-codec.ts';

const batch = () => {
  const rng = new SeededRandom(5);
  return {
    ids: Uint32Array.from([7, 3, 4_000_000_000]),
    dim: 4,
    values: Float32Array.from({ length: 12 }, () => rng.normal()),
  };
};

describe('target codec', () => {
  it('round-trips float32 exactly and float16 within half precision', () => {
    const b = batch();
    const exact = decodeTargets(encodeTargets(b));
    expect(Array.from(exact.ids)).toEqual([7, 3, 4_000_000_000]);
    expect(Array.from(exact.values)).toEqual(Array.from(b.values));
    const half = decodeTargets(encodeTargets(b, 'float16'));
    expect(half.dtype).toBe('float16');
    for (const [i, v] of half.values.entries()) {
      expect(Math.abs(v - (b.values[i] as number))).toBeLessThan(2e-3 * Math.max(1, Math.abs(b.values[i] as number)));
    }
  });

  it('converts to IEEE half like the standard', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(70000)).toBe(0x7c00);
    expect(floatToHalf(2 ** -24)).toBe(0x0001);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.333251953125, 10);
    expect(Number.isNaN(halfToFloat(floatToHalf(Number.NaN)))).toBe(true);
  });

  it('computes CRC-32 as zlib does, and accepts a platform CRC', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const bytes = encodeTargets(batch());
    let calls = 0;
    const counted = (b: Uint8Array) => {
      calls++;
      return crc32(b);
    };
    const decoded = decodeTargets(bytes, { crc32: counted });
    expect(calls).toBe(1);
    expect(decoded.ids.length).toBe(3);
  });

  it('refuses corrupt, truncated, foreign and mis-sized uploads with a reason', () => {
    const bytes = encodeTargets(batch());
    const flipped = Uint8Array.from(bytes);
    flipped[30] = (flipped[30] as number) ^ 0x40;
    expect(() => decodeTargets(flipped)).toThrow('checksum mismatch');
    expect(() => decodeTargets(bytes.subarray(0, bytes.length - 5))).toThrow(/header says 3 rows of 4 float32/);
    expect(() => decodeTargets(new TextEncoder().encode('GIF89a and more bytes here'))).toThrow('bad magic');
    expect(() => decodeTargets(new Uint8Array(4))).toThrow(TargetCodecError);
    expect(() => encodeTargets({ ids: Uint32Array.of(1), dim: 3, values: new Float32Array(2) })).toThrow('do not fill');
  });
});
