import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BodyCollector } from './body-collector.ts';

describe('BodyCollector', () => {
  it('copies chunks into place once told the length, and keeps every byte when that length is wrong', () => {
    const body = randomBytes(500_000);
    for (const declared of [body.length, body.length - 70_000, body.length + 1_000, 10]) {
      for (const toldAfter of [0, 1, 3, 8]) {
        const collector = new BodyCollector();
        let chunk = 0;
        for (let at = 0; at < body.length; at += 65_536, chunk++) {
          // Told after some chunks came already, as the upload route does after its lease lookup.
          if (chunk === toldAfter) collector.expect(declared);
          collector.add(body.subarray(at, at + 65_536));
        }
        const bytes = collector.bytes();
        expect(bytes.byteOffset).toBe(0);
        expect(Buffer.from(bytes).equals(body)).toBe(true);
      }
    }
  });

  it('gives an empty body for no chunks', () => {
    expect(new BodyCollector().bytes().length).toBe(0);
  });
});
