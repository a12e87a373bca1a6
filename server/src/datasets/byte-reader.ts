import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { ByteSource } from './byte-source.ts';
import { DatasetFileError } from './dataset-file-error.ts';

/**
 * Pulls exact byte counts from a stream and tracks the offset reached, so that every
 * format error can name where it happened. Gzip input is detected by its magic bytes
 * and decompressed on the fly; offsets are then offsets into the decompressed bytes.
 */
export class ByteReader {
  offset = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private done = false;

  private constructor(
    readonly name: string,
    readonly gzipped: boolean,
    private readonly chunks: AsyncIterator<Buffer>,
  ) {}

  static async open(source: ByteSource): Promise<ByteReader> {
    const raw = (await source.open())[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const first = await raw.next();
    const head: Buffer | undefined = first.done ? undefined : first.value;
    const replay = (async function* () {
      if (head) yield head;
      for (let r = await raw.next(); !r.done; r = await raw.next()) yield r.value;
    })();
    const gzipped = head !== undefined && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    if (!gzipped) return new ByteReader(source.name, false, replay);
    const gunzip = zlib.createGunzip({ chunkSize: 1 << 20 });
    pipeline(Readable.from(replay), gunzip).catch(() => {
      // The same error surfaces from the gunzip iterator below, with the offset.
    });
    return new ByteReader(source.name, true, gunzip[Symbol.asyncIterator]());
  }

  /** Reads up to n bytes; fewer only at the end of the data. */
  async readUpTo(n: number): Promise<Buffer> {
    while (this.pendingBytes < n && !this.done) await this.pull();
    const take = Math.min(n, this.pendingBytes);
    const all =
      this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    const out = all.subarray(0, take);
    const rest = all.subarray(take);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    this.offset += take;
    return out;
  }

  /** Reads exactly n bytes or fails, naming `what` was being read. */
  async readExactly(n: number, what: string): Promise<Buffer> {
    const start = this.offset;
    const out = await this.readUpTo(n);
    if (out.length < n) {
      throw this.error(`truncated: ${what} needs ${n} bytes from offset ${start}, but the data ends here`);
    }
    return out;
  }

  async atEnd(): Promise<boolean> {
    if (this.pendingBytes > 0) return false;
    while (!this.done && this.pendingBytes === 0) await this.pull();
    return this.pendingBytes === 0;
  }

  error(detail: string, offset = this.offset): DatasetFileError {
    return new DatasetFileError(this.name, offset, detail);
  }

  private async pull(): Promise<void> {
    let r: IteratorResult<Buffer>;
    try {
      r = await this.chunks.next();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw this.error(
        this.gzipped ? `corrupt gzip data after this many decompressed bytes (${why})` : `read failed (${why})`,
        this.offset + this.pendingBytes,
      );
    }
    if (r.done) {
      this.done = true;
      return;
    }
    if (r.value.length === 0) return;
    this.pending.push(r.value);
    this.pendingBytes += r.value.length;
  }
}
