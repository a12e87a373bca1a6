import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { type ByteSource, fileSource } from '../datasets/byte-source.ts';

/** A temporary directory for one test file, removed after its tests; `write` returns the file as a source. */
export function scratchFiles(prefix: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `coopt-${prefix}-`));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    path: (rel: string) => path.join(dir, rel),
    write(rel: string, bytes: Uint8Array): ByteSource {
      const p = path.join(dir, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, bytes);
      return fileSource(p);
    },
  };
}
