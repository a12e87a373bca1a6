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
 * chunk; otherwise (app.request in tests) the Request's body.
 */
export async function readHashedBody(
  request: Request,
  incoming: IncomingMessage | undefined,
  limit: number,
  onChunk: (chunk: Uint8Array) => void = () => {},
): Promise<HashedBody> {
  const hash = createHash('sha256');
  const take = (chunk: Uint8Array) => {
    hash.update(chunk);
    onChunk(chunk);
  };
  const chunks = incoming ? await readIncoming(incoming, limit, take) : await readWebBody(request, limit, take);
  const size = chunks.reduce((n, c) => n + c.byteLength, 0);
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Past the limit it stops listening; Node's server discards the rest once the 413 is sent. */
function readIncoming(
  incoming: IncomingMessage,
  limit: number,
  take: (chunk: Uint8Array) => void,
): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const finish = (error: unknown | null) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', finish);
      incoming.off('close', onClose);
      if (error) reject(error);
      else resolve(chunks);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) return finish(AppError.payloadTooLarge(limit));
      take(chunk);
      chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onClose = () => finish(new Error('the client closed the connection before the body ended'));
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', finish);
    incoming.on('close', onClose);
  });
}

async function readWebBody(request: Request, limit: number, take: (chunk: Uint8Array) => void): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  if (!reader) return chunks;
  for (;;) {
    const next = await reader.read();
    if (next.done) return chunks;
    size += next.value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw AppError.payloadTooLarge(limit);
    }
    take(next.value);
    chunks.push(next.value);
  }
}
