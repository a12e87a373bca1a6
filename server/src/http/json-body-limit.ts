import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

/**
 * The size limit on the JSON routes' request bodies. Under the Node server the body is read
 * straight from Node's request stream into the request's body cache, where `c.req.json()` and the
 * validators find it; hono's own bodyLimit reaches the body through the web Request, whose
 * ReadableStream (made from Node's stream for every request, GETs included) cost more server time
 * than the rest of a work claim. A body over `maxSize` is refused by its declared length before
 * any byte is read, or as it arrives when it declares none. Without Node's stream (`app.request`
 * in tests) hono's bodyLimit does the same job.
 */
export function jsonBodyLimit(maxSize: number, tooLarge: () => never): MiddlewareHandler {
  const fallback = bodyLimit({ maxSize, onError: tooLarge });
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (!incoming) return fallback(c, next);
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const refuse = () => {
      // The rest of the body stays unread, so the connection cannot carry another request.
      c.header('connection', 'close');
      tooLarge();
    };
    if (Number(incoming.headers['content-length']) > maxSize) refuse();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxSize) refuse();
      chunks.push(chunk);
    }
    // hono keeps each body form as a promise of it (its type names the values).
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(
      Buffer.concat(chunks, size).toString('utf8'),
    );
    await next();
  };
}
