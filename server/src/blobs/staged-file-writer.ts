import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BlobInfo, BlobKey, BlobWriter, StagedBlob } from './blob-store.ts';
import { ensureDir, placeBlob } from './place-blob.ts';

/** Bytes gathered before they go to the disk in one write. */
const WRITE_EVERY = 1 << 19;
/** The most buffers one writev takes (Linux's IOV_MAX). */
const MAX_BUFFERS = 1024;
/** Writes return once their bytes are on stable storage; where the platform lacks it, `finish` flushes. */
const O_DSYNC: number = fs.constants.O_DSYNC ?? 0;

/**
 * A blob written to a temporary file while its chunks arrive (an upload), durable as it goes.
 * The file is opened for synchronized writes (O_DSYNC: a write returns once its bytes are on
 * stable storage), and every half mebibyte that arrives goes to libuv's thread pool at once, as
 * a write at its own offset, whether or not the earlier ones are done. Nothing waits on the event
 * loop between writes: Node reads a fast upload's socket up to 2 MiB per loop turn, so a chain of
 * writes (or flushes), each started when the previous one's completion came back, made almost no
 * progress until the body had ended and left the whole file to write then. So the disk works
 * while the network does, and when the last chunk is in only the tail is left to write.
 * The file is opened synchronously for the same reason (it costs microseconds).
 * Nothing is visible under a key until `commit` links the file into place; `dispose` drops
 * whatever was not committed.
 */
export class StagedFileWriter implements BlobWriter {
  private fd: number | null = null;
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private failure: unknown = null;
  private size = 0;
  /** Bytes handed to the thread pool so far: where the next write starts. */
  private issued = 0;
  /** Writes (and flushes) under way. */
  private inFlight = 0;
  private onIdle: (() => void)[] = [];
  private disposed = false;
  private closed = false;
  private committed = false;

  constructor(
    private readonly tmpPath: string,
    private readonly pathOf: (key: BlobKey) => string,
  ) {
    try {
      this.fd = fs.openSync(
        tmpPath,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_DSYNC,
        0o644,
      );
    } catch (err) {
      this.failure = err;
    }
  }

  write(chunk: Uint8Array): void {
    if (this.disposed || this.failure !== null) return;
    this.size += chunk.byteLength;
    this.batch.push(chunk);
    this.batchBytes += chunk.byteLength;
    if (this.batchBytes >= WRITE_EVERY || this.batch.length >= MAX_BUFFERS) this.issue();
  }

  async finish(key: BlobKey): Promise<StagedBlob> {
    const final = this.pathOf(key);
    // The blob's directory is made while the tail is written.
    const dir = ensureDir(path.dirname(final));
    dir.catch(() => undefined);
    this.issue();
    await this.idle();
    if (O_DSYNC === 0 && this.failure === null && this.fd !== null) {
      this.start();
      fs.fdatasync(this.fd, (err) => this.done(err));
      await this.idle();
    }
    await this.close();
    if (this.failure !== null) throw this.failure;
    const size = this.size;
    return {
      commit: async (): Promise<BlobInfo> => {
        await dir;
        await placeBlob(this.tmpPath, final);
        this.committed = true;
        return { key, size };
      },
    };
  }

  async dispose(): Promise<void> {
    // A committed blob is closed and in place already: nothing is left to drop.
    if (this.committed) return;
    this.disposed = true;
    this.batch = [];
    this.batchBytes = 0;
    await this.idle();
    await this.close();
    await fsp.rm(this.tmpPath, { force: true });
  }

  /** Hands the gathered chunks to the thread pool as one write at their offset. */
  private issue(): void {
    const fd = this.fd;
    const buffers = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    if (fd === null || bytes === 0 || this.failure !== null || this.disposed) return;
    this.writeAt(fd, buffers, this.issued);
    this.issued += bytes;
  }

  private writeAt(fd: number, buffers: Uint8Array[], position: number): void {
    this.start();
    fs.writev(fd, buffers, position, (err, written) => {
      // A short write (rare for a regular file) goes on from where it stopped.
      if (!err) {
        const rest = skipBytes(buffers, written);
        if (rest.length > 0 && this.failure === null) this.writeAt(fd, rest, position + written);
      }
      this.done(err);
    });
  }

  private start(): void {
    this.inFlight++;
  }

  private done(err: unknown): void {
    if (err) this.failure ??= err;
    this.inFlight--;
    if (this.inFlight > 0) return;
    const waiting = this.onIdle;
    this.onIdle = [];
    for (const resolve of waiting) resolve();
  }

  /** Resolves once no write is under way. */
  private idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.onIdle.push(resolve));
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const fd = this.fd;
    if (fd !== null) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }
}

/** The buffers' bytes after the first `skip`. */
function skipBytes(buffers: Uint8Array[], skip: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const b of buffers) {
    if (skip >= b.byteLength) skip -= b.byteLength;
    else {
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
  }
  return rest;
}
