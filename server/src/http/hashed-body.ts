import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError } from './app-error.ts';

export interface HashedBody {
  /** The whole body in a buffer of its own (offset 0), so float rows can be viewed in place. */
  bytes: Uint8Array;
  /** SHA-256 of the body in lower-case hex, computed chunk by chunk while the rest arrived. */
  sha256: string;
}

/**
 * Reads a request body whole, hashing each chunk as it arrives (so the hash costs no time after
 * the last byte) and handing it to `onChunk` (which may write it out meanwhile), and stops
 * reading with 413 as soon as more than `limit` bytes came in. Under the Node server it reads the
 * socket's stream itself (`incoming`), which spares a web-stream wrapper and its garbage per
 * chunk; otherwise (app.request in tests) the Request's body. With the body's `declared` length
 * (its content-length, at most `limit`) each chunk is copied into place as it comes, so no copy
 * of the whole body is left for the end.
 */
export async function readHashedBody(
  request: Request,
  incoming: IncomingMessage | undefined,
  limit: number,
  onChunk: (chunk: Uint8Array) => void = () => {},
  declared?: number,
): Promise<HashedBody> {
  const hash = createHash('sha256');
  const body = new BodyCollector(declared !== undefined && declared <= limit ? declared : undefined);
  const take = (chunk: Uint8Array) => {
    hash.update(chunk);
    onChunk(chunk);
    body.add(chunk);
  };
  if (incoming) await readIncoming(incoming, limit, take);
  else await readWebBody(request, limit, take);
  return { bytes: body.bytes(), sha256: hash.digest('hex') };
}

/**
 * A body's chunks: copied into one buffer as they come when its size was declared (the buffer is
 * made when the first byte arrives, so a request that sends nothing costs nothing), else kept and
 * joined at the end. Either way the result has a buffer of its own, at offset 0.
 */
class BodyCollector {
  private buffer: Uint8Array | null = null;
  private filled = 0;
  private readonly chunks: Uint8Array[] = [];

  constructor(private readonly declared: number | undefined) {}

  add(chunk: Uint8Array): void {
    if (this.declared !== undefined && this.chunks.length === 0) {
      this.buffer ??= new Uint8Array(Buffer.allocUnsafeSlow(this.declared).buffer, 0, this.declared);
      if (this.filled + chunk.byteLength <= this.declared) {
        this.buffer.set(chunk, this.filled);
        this.filled += chunk.byteLength;
        return;
      }
      // More than declared (only a misbehaving client): keep what came and collect the rest.
      this.chunks.push(this.buffer.subarray(0, this.filled));
    }
    this.chunks.push(chunk);
  }

  bytes(): Uint8Array {
    if (this.chunks.length === 0) return this.buffer ? this.buffer.subarray(0, this.filled) : new Uint8Array(0);
    const bytes = new Uint8Array(this.chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return bytes;
  }
}

/** Past the limit it stops listening; Node's server discards the rest once the 413 is sent. */
function readIncoming(incoming: IncomingMessage, limit: number, take: (chunk: Uint8Array) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const finish = (error: unknown | null) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', finish);
      incoming.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) return finish(AppError.payloadTooLarge(limit));
      take(chunk);
    };
    const onEnd = () => finish(null);
    const onClose = () => finish(new Error('the client closed the connection before the body ended'));
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', finish);
    incoming.on('close', onClose);
  });
}

async function readWebBody(request: Request, limit: number, take: (chunk: Uint8Array) => void): Promise<void> {
  let size = 0;
  const reader = request.body?.getReader();
  if (!reader) return;
  for (;;) {
    const next = await reader.read();
    if (next.done) return;
    size += next.value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw AppError.payloadTooLarge(limit);
    }
    take(next.value);
  }
}
