import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseKind } from '@coopt/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idxImages, idxLabels, pixelsFor } from './test/dataset-files.ts';
import { createScratchPostgres, databaseKinds } from './test/test-database.ts';

const serverDir = path.resolve(import.meta.dirname, '..');
const tsx = path.join(serverDir, 'node_modules/.bin/tsx');

/** Runs the real CLI as a user would, in its own process. */
function cli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(tsx, ['src/cli.ts', ...args], { cwd: serverDir, env: { ...process.env, ...env }, stdio: 'pipe' });
}

async function finish(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out, err };
}

describe.each(databaseKinds())('import CLI on %s', (kind: DatabaseKind) => {
  let dir: string;
  let env: Record<string, string>;
  let dropScratch: (() => Promise<void>) | null = null;
  const count = 3000;
  const pixels = pixelsFor(count, 28 * 28);
  const images = idxImages(count, 28, 28, pixels);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-cli-'));
    env = { COOPT_DATA_DIR: path.join(dir, 'data'), INIT_CWD: dir, DATABASE_URL: '' };
    if (kind === 'postgres') {
      const scratch = await createScratchPostgres();
      env.DATABASE_URL = scratch.url;
      dropScratch = scratch.drop;
    }
    fs.writeFileSync(path.join(dir, 'labels.idx'), idxLabels(Array.from({ length: count }, (_, i) => i % 10)));
  });
  afterAll(async () => {
    await dropScratch?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('killed mid-import leaves no dataset; run again, it imports the whole file once', async () => {
    // The images come through a pipe, so the test decides exactly how far the import gets before the kill.
    const fifo = path.join(dir, 'images.fifo');
    execFileSync('mkfifo', [fifo]);
    const first = cli(
      ['import', 'idx', '--name', 'crashy', '--images', 'images.fifo', '--labels', 'labels.idx', '--chunk-size', '500'],
      env,
    );
    const writer = fs.createWriteStream(fifo);
    writer.write(images.subarray(0, 16 + 1200 * 784));
    let progress = '';
    await new Promise<void>((resolve, reject) => {
      first.stderr?.on('data', (d) => {
        progress += d;
        if (/\d+\/3000 images/.test(progress)) resolve();
      });
      first.on('exit', () => reject(new Error(`import exited early: ${progress}`)));
    });
    first.kill('SIGKILL');
    await once(first, 'exit');
    writer.destroy();

    const listed = await finish(cli(['datasets'], env));
    expect(listed.code).toBe(0);
    expect(listed.out).not.toContain('crashy');

    fs.writeFileSync(path.join(dir, 'images.idx'), images);
    const second = await finish(
      cli(
        [
          'import',
          'idx',
          '--name',
          'crashy',
          '--images',
          'images.idx',
          '--labels',
          'labels.idx',
          '--chunk-size',
          '500',
        ],
        env,
      ),
    );
    expect(second.err).toContain('3000/3000 images');
    expect(second.code).toBe(0);
    const after = await finish(cli(['datasets'], env));
    expect(after.out.match(/crashy/g)).toHaveLength(1);
    expect(after.out).toMatch(/crashy\t3000 x 28x28x1\tidx\tlabels: 10 classes/);
  });

  it('exits 2 with the file and offset for a bad file, and 64 for bad usage', async () => {
    fs.writeFileSync(path.join(dir, 'short.idx'), images.subarray(0, 16 + 784 * 2 + 5));
    const bad = await finish(cli(['import', 'idx', '--name', 'short', '--images', 'short.idx'], env));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`${path.join(dir, 'short.idx')} at byte offset 1589: truncated`);
    const usage = await finish(cli(['import', 'idx', '--images', 'short.idx'], env));
    expect(usage.code).toBe(64);
    expect(usage.err).toContain('--name is required');
  });
});
