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
 * chunk; otherwise (app.request in tests) the Request's body. The chunks go to `body`, which
 * the caller may tell the body's length once it trusts it (see BodyCollector.expect).
 */
export async function readHashedBody(
  request: Request,
  incoming: IncomingMessage | undefined,
  limit: number,
  onChunk: (chunk: Uint8Array) => void = () => {},
  body: BodyCollector = new BodyCollector(),
): Promise<HashedBody> {
  const hash = createHash('sha256');
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
 * A body's chunks, kept as they come and joined at the end; once `expect` is told the body's
 * length (its content-length, when the caller has checked it against what it will accept), the
 * chunks so far are copied into one buffer of that size and the rest into place as they come, so
 * no copy of the whole body is left for the end. Either way the result has a buffer of its own,
 * at offset 0.
 */
export class BodyCollector {
  private buffer: Uint8Array | null = null;
  private filled = 0;
  private chunks: Uint8Array[] = [];

  expect(size: number): void {
    if (this.buffer || !Number.isSafeInteger(size) || size < 0) return;
    const received = this.chunks.reduce((n, c) => n + c.byteLength, 0);
    if (received > size) return;
    this.buffer = new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
    for (const chunk of this.chunks) this.place(chunk);
    this.chunks = [];
  }

  add(chunk: Uint8Array): void {
    if (this.buffer && this.chunks.length === 0 && this.filled + chunk.byteLength <= this.buffer.byteLength) {
      this.place(chunk);
      return;
    }
    // More than expected (only a misbehaving client): keep what came and collect the rest.
    if (this.buffer && this.chunks.length === 0) this.chunks.push(this.buffer.subarray(0, this.filled));
    this.chunks.push(chunk);
  }

  bytes(): Uint8Array {
    if (this.buffer && this.chunks.length === 0) return this.buffer.subarray(0, this.filled);
    const bytes = new Uint8Array(this.chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return bytes;
  }

  private place(chunk: Uint8Array): void {
    (this.buffer as Uint8Array).set(chunk, this.filled);
    this.filled += chunk.byteLength;
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
