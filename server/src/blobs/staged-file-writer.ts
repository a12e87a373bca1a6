import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BlobInfo, BlobKey, BlobWriter, StagedBlob } from './blob-store.ts';

/** Bytes written since the last flush that start a flush while the rest still arrives. */
const FLUSH_EVERY = 1 << 20;
/** The most buffers one writev takes (Linux's IOV_MAX). */
const MAX_BUFFERS = 1024;

/**
 * A blob written to a temporary file while its chunks arrive (an upload), flushed to disk as it
 * goes: every chunk queued while the file was busy goes out in one writev, and once a mebibyte
 * is written since the last flush a datasync runs. So when the last chunk is in, only the tail is
 * left to flush, and the disk worked while the network did. Nothing is visible under a key until
 * `commit` renames the file into place; `dispose` drops whatever was not committed.
 */
export class StagedFileWriter implements BlobWriter {
  private readonly opened: Promise<fsp.FileHandle>;
  private pending: Uint8Array[] = [];
  private draining: Promise<void> | null = null;
  private failure: unknown = null;
  private size = 0;
  private unflushed = 0;
  private disposed = false;
  private closed = false;
  private committed = false;

  constructor(
    private readonly tmpPath: string,
    private readonly pathOf: (key: BlobKey) => string,
  ) {
    this.opened = fsp.open(tmpPath, 'wx');
    this.opened.catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  write(chunk: Uint8Array): void {
    if (this.disposed || this.failure !== null) return;
    this.size += chunk.byteLength;
    this.pending.push(chunk);
    this.draining ??= this.drain();
  }

  async finish(sha256: BlobKey): Promise<StagedBlob> {
    const final = this.pathOf(sha256);
    await this.draining;
    if (this.failure === null && this.unflushed > 0) {
      try {
        await (await this.opened).datasync();
      } catch (err) {
        this.failure ??= err;
      }
    }
    await this.close();
    if (this.failure !== null) throw this.failure;
    const size = this.size;
    return {
      commit: async (): Promise<BlobInfo> => {
        await renameInto(this.tmpPath, final);
        this.committed = true;
        return { key: sha256, size };
      },
    };
  }

  async dispose(): Promise<void> {
    // A committed blob is closed and in place already: nothing is left to drop.
    if (this.committed) return;
    this.disposed = true;
    this.pending = [];
    await this.draining;
    await this.close();
    await fsp.rm(this.tmpPath, { force: true });
  }

  /** Writes whatever is queued, batch by batch, until the queue is empty (or a write failed). */
  private async drain(): Promise<void> {
    try {
      const fh = await this.opened;
      while (this.pending.length > 0 && this.failure === null && !this.disposed) {
        const batch = this.pending.splice(0, MAX_BUFFERS);
        this.unflushed += await writeAll(fh, batch);
        if (this.unflushed >= FLUSH_EVERY) {
          this.unflushed = 0;
          await fh.datasync();
        }
      }
    } catch (err) {
      this.failure ??= err;
    } finally {
      // No await between the loop's last check and here, so a chunk written meanwhile starts a new drain.
      this.draining = null;
    }
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opened.then(
      (fh) => fh.close(),
      () => undefined,
    );
  }
}

/** Blob directories this process made or found; most commits land in one that exists already. */
const knownDirs = new Set<string>();

async function renameInto(from: string, to: string): Promise<void> {
  const dir = path.dirname(to);
  if (knownDirs.has(dir)) {
    try {
      return await fsp.rename(from, to);
    } catch (err) {
      // Removed behind this process's back: make it again below.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      knownDirs.delete(dir);
    }
  }
  await fsp.mkdir(dir, { recursive: true });
  await fsp.rename(from, to);
  if (knownDirs.size >= 70_000) knownDirs.clear();
  knownDirs.add(dir);
}

/** One writev for the batch, and more for whatever a short write left; returns the bytes written. */
async function writeAll(fh: fsp.FileHandle, batch: Uint8Array[]): Promise<number> {
  const total = batch.reduce((n, b) => n + b.byteLength, 0);
  let left = batch;
  let written = 0;
  while (written < total) {
    const { bytesWritten } = await fh.writev(left);
    written += bytesWritten;
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const b of left) {
      if (skip >= b.byteLength) skip -= b.byteLength;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    left = rest;
  }
  return total;
}
