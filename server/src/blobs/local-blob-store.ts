import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type BlobInfo,
  type BlobKey,
  BlobNotFoundError,
  BlobRangeError,
  type BlobSource,
  type BlobStore,
  BlobTooLargeError,
  type BlobWriter,
  type ByteRange,
  isBlobKey,
  type PutOptions,
} from './blob-store.ts';
import { placeBlob } from './place-blob.ts';
import { StagedFileWriter } from './staged-file-writer.ts';

/**
 * Blobs as files under `root/ab/cd/<key>`. A put streams into `root/tmp`, hashing as it goes,
 * then links into place (place-blob.ts): a crash leaves at most a temp file, never a half-written blob.
 */
/** Node's default 64 KiB reads (and 16 KiB transform buffers) cost most of the disk's throughput on large blobs. */
const READ_CHUNK = 1 << 20;

export class LocalBlobStore implements BlobStore {
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.tmpDir, { recursive: true });
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    if (source instanceof Uint8Array) return this.putBytes(source, options);
    const tmp = this.tmpName();
    const hash = createHash('sha256');
    let size = 0;
    // Hash and count in a transform, so reading, hashing and writing overlap as in a plain copy.
    const meter = new Transform({
      highWaterMark: 4 * READ_CHUNK,
      transform(chunk: Buffer, _enc, done) {
        size += chunk.byteLength;
        if (options.maxBytes !== undefined && size > options.maxBytes)
          return done(new BlobTooLargeError(options.maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const file = fs.createWriteStream(tmp, { flags: 'wx', flush: true, highWaterMark: 4 * READ_CHUNK });
    try {
      await pipeline(asReadable(source), meter, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    const key = hash.digest('hex');
    await placeBlob(tmp, this.pathOf(key));
    return { key, size };
  }

  /** Bytes already in memory: hashed in one call and written (and flushed) in one, not streamed. */
  private async putBytes(bytes: Uint8Array, options: PutOptions): Promise<BlobInfo> {
    if (options.maxBytes !== undefined && bytes.byteLength > options.maxBytes)
      throw new BlobTooLargeError(options.maxBytes);
    const key = options.sha256 ?? createHash('sha256').update(bytes).digest('hex');
    const writer = this.openWriter();
    try {
      writer.write(bytes);
      return await (await writer.finish(key)).commit();
    } finally {
      await writer.dispose();
    }
  }

  openWriter(): BlobWriter {
    return new StagedFileWriter(this.tmpName(), (key) => this.pathOf(key));
  }

  /**
   * Removes temporary files nothing has written to for `idleMs`: what a process that crashed
   * mid-upload left in `tmp`. A live put or upload writes to its file as its bytes arrive and is
   * done moments after the last one (and the HTTP server ends any request after five minutes), so
   * an idle file belongs to no live process, whichever of the processes sharing this directory
   * made it. A file already linked under its key loses only its temporary name.
   */
  async sweepTemporaries(idleMs: number, now = Date.now()): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    for (const name of await fsp.readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      try {
        const st = await fsp.lstat(file);
        if (!st.isFile() || now - st.mtimeMs < idleMs) continue;
        await fsp.unlink(file);
        files++;
        bytes += st.size;
      } catch (err) {
        // Finished (renamed or removed) by its own process meanwhile.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return { files, bytes };
  }

  private tmpName(): string {
    return path.join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
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
      return fs.createReadStream(this.pathOf(key), { start: range.start, end: range.end, highWaterMark: READ_CHUNK });
    }
    return fs.createReadStream(this.pathOf(key), { highWaterMark: READ_CHUNK });
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

function asReadable(source: BlobSource): Readable {
  if (source instanceof Readable) return source;
  return Readable.from(source instanceof Uint8Array ? [source] : source, { objectMode: false });
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

function notFoundOr(err: unknown, key: BlobKey): unknown {
  return isMissing(err) ? new BlobNotFoundError(key) : err;
}
