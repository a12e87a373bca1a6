import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  type BlobInfo,
  type BlobKey,
  BlobNotFoundError,
  BlobRangeError,
  type BlobSource,
  type BlobStore,
  BlobTooLargeError,
  type ByteRange,
  isBlobKey,
  type PutOptions,
} from './blob-store.ts';

/**
 * Blobs as files under `root/ab/cd/<key>`. A put streams into `root/tmp`, hashing as it goes,
 * then renames into place: a crash leaves at most a temp file, never a half-written blob.
 */
export class LocalBlobStore implements BlobStore {
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.tmpDir, { recursive: true });
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    const tmp = path.join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    const file = await fsp.open(tmp, 'wx');
    let size = 0;
    try {
      for await (const chunk of asChunks(source)) {
        size += chunk.byteLength;
        if (options.maxBytes !== undefined && size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes);
        hash.update(chunk);
        await file.write(chunk);
      }
      await file.sync();
    } catch (err) {
      await file.close();
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await file.close();
    const key = hash.digest('hex');
    const final = this.pathOf(key);
    await fsp.mkdir(path.dirname(final), { recursive: true });
    await fsp.rename(tmp, final);
    return { key, size };
  }

  async get(key: BlobKey): Promise<Uint8Array> {
    try {
      return await fsp.readFile(this.pathOf(key));
    } catch (err) {
      throw notFoundOr(err, key);
    }
  }

  async stream(key: BlobKey, range?: ByteRange): Promise<Readable> {
    const info = await this.stat(key);
    if (!info) throw new BlobNotFoundError(key);
    if (range) {
      if (range.start < 0 || range.end < range.start || range.end >= info.size) {
        throw new BlobRangeError(range, info.size);
      }
      return fs.createReadStream(this.pathOf(key), { start: range.start, end: range.end });
    }
    return fs.createReadStream(this.pathOf(key));
  }

  async stat(key: BlobKey): Promise<BlobInfo | null> {
    try {
      const st = await fsp.stat(this.pathOf(key));
      return { key, size: st.size };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async delete(key: BlobKey): Promise<boolean> {
    try {
      await fsp.unlink(this.pathOf(key));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  private pathOf(key: BlobKey): string {
    // The key becomes a path, so anything but a hash is refused outright.
    if (!isBlobKey(key)) throw new BlobNotFoundError(key);
    return path.join(this.root, key.slice(0, 2), key.slice(2, 4), key);
  }
}

async function* asChunks(source: BlobSource): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  yield* source as AsyncIterable<Uint8Array>;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

function notFoundOr(err: unknown, key: BlobKey): unknown {
  return isMissing(err) ? new BlobNotFoundError(key) : err;
}
