import type { Readable } from 'node:stream';

/** Blobs are addressed by the SHA-256 of their bytes, in lower-case hex. */
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

/** Bytes written (and flushed) under a temporary name: `commit` puts them in place, `discard` drops them. */
export interface StagedBlob {
  commit(): Promise<BlobInfo>;
  discard(): Promise<void>;
}

export interface BlobStore {
  /** Streams bytes in, hashing on the way; never holds the whole blob in memory. */
  put(source: BlobSource, options?: PutOptions): Promise<BlobInfo>;
  /**
   * Writes bytes whose SHA-256 is known while the caller still checks them: nothing is visible
   * under the key until `commit`, and `discard` leaves nothing behind.
   */
  stage(bytes: Uint8Array, sha256: BlobKey): Promise<StagedBlob>;
  /** Reads a whole blob; for small blobs only (metadata, id lists, chunks). */
  get(key: BlobKey): Promise<Uint8Array>;
  /** Streams a blob, or the inclusive byte range of it. */
  stream(key: BlobKey, range?: ByteRange): Promise<Readable>;
  stat(key: BlobKey): Promise<BlobInfo | null>;
  delete(key: BlobKey): Promise<boolean>;
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

export function isBlobKey(key: string): boolean {
  return /^[0-9a-f]{64}$/.test(key);
}
