import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BlobNotFoundError, BlobRangeError, BlobTooLargeError } from './blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';

let root: string;
let store: LocalBlobStore;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-blobs-'));
  store = new LocalBlobStore(root);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('LocalBlobStore', () => {
  it('keys blobs by the SHA-256 of their content and reads them back', async () => {
    const bytes = new TextEncoder().encode('hello blobs');
    const info = await store.put(bytes);
    expect(info).toEqual({ key: sha256(bytes), size: bytes.length });
    expect(Buffer.from(await store.get(info.key)).toString()).toBe('hello blobs');
    expect(await store.stat(info.key)).toEqual(info);
  });

  it('streams a large blob in without holding it whole, and the same bytes twice are one blob', async () => {
    const chunk = Buffer.alloc(1 << 20, 7);
    const chunks = function* () {
      for (let i = 0; i < 32; i++) yield chunk;
    };
    const a = await store.put(Readable.from(chunks()));
    const b = await store.put(Readable.from(chunks()));
    expect(a.size).toBe(32 << 20);
    expect(b.key).toBe(a.key);
    const stored = fs.readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith(a.key));
    expect(stored).toHaveLength(1);
  });

  it('serves inclusive byte ranges and refuses ranges outside the blob', async () => {
    const info = await store.put(Buffer.from('0123456789'));
    expect((await buffer(await store.stream(info.key, { start: 2, end: 5 }))).toString()).toBe('2345');
    expect((await buffer(await store.stream(info.key))).toString()).toBe('0123456789');
    await expect(store.stream(info.key, { start: 5, end: 10 })).rejects.toBeInstanceOf(BlobRangeError);
    await expect(store.stream(info.key, { start: 6, end: 5 })).rejects.toBeInstanceOf(BlobRangeError);
  });

  it('aborts a put past the size limit and leaves nothing behind', async () => {
    await expect(
      store.put(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), { maxBytes: 1000 }),
    ).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
  });

  it('writes a blob chunk by chunk out of sight: committed it appears, disposed it leaves nothing', async () => {
    const kept = Buffer.from('written in three chunks and kept');
    const writer = store.openWriter();
    for (const part of [kept.subarray(0, 5), kept.subarray(5, 20), kept.subarray(20)]) writer.write(part);
    const staged = await writer.finish(sha256(kept));
    expect(await store.stat(sha256(kept))).toBeNull();
    expect(await staged.commit()).toEqual({ key: sha256(kept), size: kept.length });
    await writer.dispose();
    expect(Buffer.from(await store.get(sha256(kept))).toString()).toBe('written in three chunks and kept');

    const dropped = Buffer.from('written and dropped');
    const early = store.openWriter();
    early.write(dropped);
    await early.dispose();
    early.write(dropped); // ignored once disposed
    const late = store.openWriter();
    late.write(dropped);
    await late.finish(sha256(dropped));
    await late.dispose();
    await late.dispose();
    expect(await store.stat(sha256(dropped))).toBeNull();
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
  });

  it('keeps every byte in order when megabytes arrive in chunks while earlier ones are flushed', async () => {
    const bytes = randomBytes(3 * (1 << 20) + 12_345);
    const writer = store.openWriter();
    // Chunks of uneven size, some arriving while a write or flush is under way.
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = 1000 + ((i * 7919) % 90_000);
      writer.write(bytes.subarray(at, at + size));
      at += size;
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const info = await (await writer.finish(sha256(bytes))).commit();
    await writer.dispose();
    expect(info).toEqual({ key: sha256(bytes), size: bytes.length });
    expect(Buffer.from(await store.get(info.key)).equals(bytes)).toBe(true);
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
  });

  it('keeps the blob already stored under a key when the same bytes are committed again', async () => {
    const bytes = randomBytes(1 << 20);
    const first = store.openWriter();
    first.write(bytes);
    await (await first.finish(sha256(bytes))).commit();
    const stored = fs.statSync(path.join(root, sha256(bytes).slice(0, 2), sha256(bytes).slice(2, 4), sha256(bytes)));
    const again = store.openWriter();
    for (let at = 0; at < bytes.length; at += 100_000) again.write(bytes.subarray(at, at + 100_000));
    expect(await (await again.finish(sha256(bytes))).commit()).toEqual({ key: sha256(bytes), size: bytes.length });
    await again.dispose();
    const after = fs.statSync(path.join(root, sha256(bytes).slice(0, 2), sha256(bytes).slice(2, 4), sha256(bytes)));
    expect(after.ino).toBe(stored.ino);
    expect(Buffer.from(await store.get(sha256(bytes))).equals(bytes)).toBe(true);
    // The second copy is removed after the commit returned.
    await vi.waitFor(() => expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]));
  });

  it('reports a write that cannot happen when the blob is finished, and commits nothing', async () => {
    fs.rmSync(path.join(root, 'tmp'), { recursive: true });
    const writer = store.openWriter();
    writer.write(Buffer.from('nowhere to go'));
    await expect(writer.finish(sha256(Buffer.from('nowhere to go')))).rejects.toMatchObject({ code: 'ENOENT' });
    await writer.dispose();
    expect(await store.stat(sha256(Buffer.from('nowhere to go')))).toBeNull();
  });

  it('reports missing blobs and refuses keys that are not hashes', async () => {
    const missing = 'f'.repeat(64);
    await expect(store.get(missing)).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.stream('../../etc/passwd')).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await store.stat(missing)).toBeNull();
    const info = await store.put(Buffer.from('x'));
    expect(await store.delete(info.key)).toBe(true);
    expect(await store.delete(info.key)).toBe(false);
  });

  it('sweeps only temporary files left idle, never one still being written', async () => {
    const tmp = path.join(root, 'tmp');
    const hour = 3_600_000;
    const abandoned = path.join(tmp, 'abandoned');
    fs.writeFileSync(abandoned, Buffer.alloc(3000));
    const old = new Date(Date.now() - 2 * hour);
    fs.utimesSync(abandoned, old, old);
    const recent = path.join(tmp, 'recent');
    fs.writeFileSync(recent, Buffer.alloc(10));
    // An upload under way, which another process's sweep must leave alone.
    const live = store.openWriter();
    live.write(Buffer.alloc(1 << 20, 1));
    const bytes = Buffer.alloc(1 << 20, 1);
    expect(await store.sweepTemporaries(hour)).toEqual({ files: 1, bytes: 3000 });
    expect(fs.existsSync(abandoned)).toBe(false);
    expect(fs.existsSync(recent)).toBe(true);
    const info = await (await live.finish(sha256(bytes))).commit();
    await live.dispose();
    expect(Buffer.from(await store.get(info.key)).equals(bytes)).toBe(true);
    // Once idle long enough, the leftover goes too; the stored blob stays.
    expect(await store.sweepTemporaries(hour, Date.now() + 2 * hour)).toEqual({ files: 1, bytes: 10 });
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(await store.stat(info.key)).toEqual(info);
  });
});
