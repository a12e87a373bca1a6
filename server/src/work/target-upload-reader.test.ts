import { checkDecodedTargets, decodeTargets, encodeTargets, SeededRandom } from '@coopt/shared/math';
import { describe, expect, it } from 'vitest';
import { TargetUploadReader } from './target-upload-reader.ts';

const rows = 300;
const dim = 64;
const batch = () => {
  const rng = new SeededRandom(3);
  return {
    ids: Uint32Array.from({ length: rows }, (_, i) => 7 * i + 1),
    dim,
    values: Float32Array.from({ length: rows * dim }, () => rng.normal()),
  };
};

function read(body: Uint8Array, chunk: number, declared?: number) {
  const reader = new TargetUploadReader();
  for (let at = 0; at < body.length; at += chunk) {
    reader.feed(body.subarray(at, at + chunk));
    if (at === 0 && declared !== undefined) reader.expect(declared);
  }
  return reader;
}

describe('TargetUploadReader', () => {
  it('reads a float32 upload from its stream without keeping the body', () => {
    const body = encodeTargets(batch());
    for (const chunk of [7, 4096, 65_536]) {
      const reader = read(body, chunk, body.length);
      expect(reader.holdsBody).toBe(false);
      expect(reader.finish()).toEqual(checkDecodedTargets(decodeTargets(body)));
    }
  });

  it('keeps a float16 upload whole and decodes it at the end, non-finite values included', () => {
    const b = batch();
    b.values[1000] = Number.POSITIVE_INFINITY;
    const body = encodeTargets(b, 'float16');
    for (const declared of [undefined, body.length, body.length - 100]) {
      const reader = read(body, 4096, declared);
      expect(reader.holdsBody).toBe(true);
      const checked = reader.finish();
      expect(checked.firstNonFinite).toBe(1000);
      expect(checked.nonFiniteValue).toBe(Number.POSITIVE_INFINITY);
      expect(checked.ids).toEqual(b.ids);
    }
  });

  it('names what is wrong with a body whose header it cannot read, or one too short for a header', () => {
    const body = encodeTargets(batch());
    body[4] = 9;
    expect(() => read(body, 65_536).finish()).toThrow('target format version 9 is not supported');
    expect(() => read(body.subarray(0, 10), 65_536).finish()).toThrow('10 bytes is shorter than a target header');
  });
});
