import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError } from './app-error.ts';

export interface HashedBody {
  /** SHA-256 of the body in lower-case hex, computed chunk by chunk while the rest arrived; null when not wanted. */
  sha256: string | null;
  /** Its length in bytes. */
  size: number;
}

/**
 * Reads a request body to its end, hashing each chunk as it arrives (so the hash costs no time
 * after the last byte) and handing it to `onChunk` (which may check it, keep it or write it out
 * meanwhile), and stops reading with 413 as soon as more than `limit` bytes came in (a function is
 * asked again at every chunk, so a caller may narrow the limit once it knows more). Under the
 * Node server it reads the socket's stream itself (`incoming`), which spares a web-stream wrapper
 * and its garbage per chunk; otherwise (app.request in tests) the Request's body.
 *
 * `hashed` says whether the SHA-256 is wanted; a caller that learns it only while the body
 * arrives passes a promise: the chunks before it settles are held (not copied) and hashed once
 * it says yes, and never hashed if it says no or fails; past HOLD_LIMIT bytes without an answer
 * they are hashed anyway, so a slow answer never holds a large body in memory.
 */
export async function readHashedBody(
  request: Request,
  incoming: IncomingMessage | undefined,
  limit: number | (() => number),
  onChunk: (chunk: Uint8Array) => void = () => {},
  hashed: boolean | Promise<boolean> = true,
): Promise<HashedBody> {
  let size = 0;
  let hash: Hash | null = hashed === true ? createHash('sha256') : null;
  // Chunks waiting for the caller's answer, hashed once it says yes (or once there are too many).
  let held: Uint8Array[] | null = typeof hashed === 'object' ? [] : null;
  const hashHeld = () => {
    const h = createHash('sha256');
    for (const c of held ?? []) h.update(c);
    hash = h;
    held = null;
  };
  const decided =
    typeof hashed === 'object'
      ? hashed.then(
          (yes) => {
            if (!yes) hash = null;
            else if (!hash) hashHeld();
            held = null;
            return yes;
          },
          () => {
            hash = null;
            held = null;
            return false;
          },
        )
      : Promise.resolve(hashed);
  const take = (chunk: Uint8Array) => {
    size += chunk.byteLength;
    if (hash) hash.update(chunk);
    else if (held) {
      held.push(chunk);
      if (size > HOLD_LIMIT) hashHeld();
    }
    onChunk(chunk);
  };
  const limitNow = typeof limit === 'function' ? limit : () => limit;
  if (incoming) await readIncoming(incoming, limitNow, take);
  else await readWebBody(request, limitNow, take);
  const wanted = await decided;
  return { sha256: wanted && hash ? (hash as Hash).digest('hex') : null, size };
}

/** The most bytes held unhashed while the caller has not yet said whether it wants the hash. */
const HOLD_LIMIT = 8 << 20;

/** Past the limit it stops listening; Node's server discards the rest once the 413 is sent. */
function readIncoming(
  incoming: IncomingMessage,
  limit: () => number,
  take: (chunk: Uint8Array) => void,
): Promise<void> {
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
      const max = limit();
      if (size > max) return finish(AppError.payloadTooLarge(max));
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

async function readWebBody(request: Request, limit: () => number, take: (chunk: Uint8Array) => void): Promise<void> {
  let size = 0;
  const reader = request.body?.getReader();
  if (!reader) return;
  for (;;) {
    const next = await reader.read();
    if (next.done) return;
    size += next.value.byteLength;
    const max = limit();
    if (size > max) {
      await reader.cancel();
      throw AppError.payloadTooLarge(max);
    }
    take(next.value);
  }
}
