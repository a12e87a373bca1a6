import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

/** Blobs are addressed by the SHA-256 of their bytes, in lower-case hex (target uploads by a random key of that form). */
export type BlobKey = string;

export interface BlobInfo {
  key: BlobKey;
  size: number;
}

/** Inclusive byte range, as in HTTP's Range header. */
export interface ByteRange {
  start: number;
  end: number;
}

export type BlobSource = Readable | AsyncIterable<Uint8Array> | Uint8Array;

export interface PutOptions {
  /** Abort with BlobTooLargeError once more than this many bytes arrive. */
  maxBytes?: number;
  /** The SHA-256 (hex) of a Uint8Array source, when the caller has just computed it: not hashed again. */
  sha256?: string;
}

/** Bytes written (and flushed) under a temporary name; `commit` puts them in place under their key. */
export interface StagedBlob {
  commit(): Promise<BlobInfo>;
}

/**
 * A blob written while its bytes arrive and are checked: nothing is visible under a key until the
 * staged blob is committed.
 */
export interface BlobWriter {
  /** Queues a chunk; chunks are written in order. Ignored once disposed. */
  write(chunk: Uint8Array): void;
  /**
   * Waits for every queued chunk, flushes them to disk and stages them under `key`: their SHA-256,
   * or for bytes never looked up by their content, a `randomBlobKey()`.
   */
  finish(key: BlobKey): Promise<StagedBlob>;
  /** Drops whatever was not committed; safe at any point, and more than once. */
  dispose(): Promise<void>;
}

export interface BlobStore {
  /** Streams bytes in, hashing on the way; never holds the whole blob in memory. */
  put(source: BlobSource, options?: PutOptions): Promise<BlobInfo>;
  /** Starts a blob whose bytes arrive in chunks (an upload) and whose key is known at the end. */
  openWriter(): BlobWriter;
  /** Reads a whole blob; for small blobs only (metadata, id lists, chunks). */
  get(key: BlobKey): Promise<Uint8Array>;
  /** Streams a blob, or the inclusive byte range of it. */
  stream(key: BlobKey, range?: ByteRange): Promise<Readable>;
  stat(key: BlobKey): Promise<BlobInfo | null>;
  delete(key: BlobKey): Promise<boolean>;
  /** Removes staged bytes nothing has written to for `idleMs` (left by a crash); how many files and bytes. */
  sweepTemporaries(idleMs: number, now?: number): Promise<{ files: number; bytes: number }>;
}

export class BlobNotFoundError extends Error {
  constructor(readonly key: BlobKey) {
    super(`blob ${key} does not exist`);
  }
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body is larger than the limit of ${limit} bytes`);
  }
}

export class BlobRangeError extends Error {
  constructor(range: ByteRange, size: number) {
    super(`byte range ${range.start}-${range.end} is outside the blob's ${size} bytes`);
  }
}

/**
 * A key for a blob that nothing looks up by its content (a volunteer's target upload): 256 random
 * bits in the format of a content key, so it is stored, streamed and deleted like any other.
 */
export function randomBlobKey(): BlobKey {
  return randomBytes(32).toString('hex');
}

export function isBlobKey(key: string): boolean {
  return /^[0-9a-f]{64}$/.test(key);
}
