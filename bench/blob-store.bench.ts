import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalBlobStore } from '../server/src/blobs/local-blob-store.ts';
import { emit, medianSeconds } from './bench-report.ts';

/**
 * Blob store put/stream throughput against a plain file copy of the same bytes on the same disk,
 * and the memory a 512 MiB put costs (it must stream, not buffer).
 */
const SIZE = 512 * 2 ** 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-bench-blob-'));
const src = path.join(dir, 'source.bin');
const chunk = Buffer.alloc(4 * 2 ** 20);
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7) & 0xff;

try {
  const out = fs.createWriteStream(src);
  for (let i = 0; i < SIZE / chunk.length; i++) {
    chunk[0] = i & 0xff; // distinct content per run of the loop, so the blob is not trivially deduplicated
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));

  const store = new LocalBlobStore(path.join(dir, 'blobs'));
  let copyN = 0;
  const plainCopy = await medianSeconds(3, async () => {
    const dst = path.join(dir, `copy-${copyN++}`);
    await pipeline(fs.createReadStream(src, { highWaterMark: 1 << 20 }), fs.createWriteStream(dst));
    const fh = await fsp.open(dst, 'r+');
    await fh.sync();
    await fh.close();
    await fsp.rm(dst);
  });

  let peakRss = 0;
  const rssBefore = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  let key = '';
  const put = await medianSeconds(3, async () => {
    const info = await store.put(fs.createReadStream(src, { highWaterMark: 1 << 20 }));
    key = info.key;
  });
  clearInterval(timer);

  const plainRead = await medianSeconds(7, async () => {
    await pipeline(fs.createReadStream(src, { highWaterMark: 1 << 20 }), new Writable({ write: (_c, _e, cb) => cb() }));
  });
  const stream = await medianSeconds(7, async () => {
    await pipeline(await store.stream(key), new Writable({ write: (_c, _e, cb) => cb() }));
  });

  const mib = SIZE / 2 ** 20;
  const rssGrowth = Math.max(0, peakRss - rssBefore) / 2 ** 20;
  emit({
    bench: 'blob-store',
    notes: [`${mib} MiB blob, median of 3 (reads: of 7); put hashes (SHA-256) and fsyncs, the plain copy fsyncs too`],
    figures: [
      {
        name: 'blob put throughput',
        value: mib / put,
        unit: 'MiB/s',
        baseline: { name: 'plain file copy (stream + fsync)', value: mib / plainCopy },
        ratio: plainCopy / put,
        goal: '>= 0.5x',
      },
      {
        name: 'blob stream throughput',
        value: mib / stream,
        unit: 'MiB/s',
        baseline: { name: 'plain file read stream', value: mib / plainRead },
        ratio: plainRead / stream,
        goal: '>= 0.9x',
      },
      {
        name: 'peak RSS growth during a put',
        value: rssGrowth,
        unit: 'MiB',
        baseline: { name: 'blob size', value: mib },
        ratio: mib / Math.max(rssGrowth, 1),
        goal: 'blob size / RSS growth >= 10 (streams, never buffers)',
      },
    ],
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
