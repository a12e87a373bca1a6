import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from './app-error.ts';
import { readHashedBody } from './hashed-body.ts';

const LIMIT = 1 << 20;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('readHashedBody', () => {
  // A real socket, so the Node stream path runs as under the server: it answers with what it read.
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Uint8Array[] = [];
      readHashedBody(new Request('http://unused/'), req, LIMIT, (chunk) => chunks.push(chunk)).then(
        ({ size, sha256: hash }) => res.end(JSON.stringify({ size, hash, handed: sha256(Buffer.concat(chunks)) })),
        (err: unknown) => res.writeHead(err instanceof AppError ? err.status : 500).end(String(err)),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads and hashes a body from the socket, handing on every chunk in order', async () => {
    const body = randomBytes(700_000);
    const res = await fetch(url, { method: 'PUT', body });
    expect(await res.json()).toEqual({ size: body.length, hash: sha256(body), handed: sha256(body) });
  });

  it('stops at the limit with 413 and still answers on the same connection', async () => {
    const res = await fetch(url, { method: 'PUT', body: randomBytes(LIMIT + 1) });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain(`limit of ${LIMIT} bytes`);
  });

  it('reads a Request body the same way when there is no socket (app.request)', async () => {
    const body = randomBytes(300_000);
    const chunks: Uint8Array[] = [];
    const read = await readHashedBody(new Request('http://x/', { method: 'PUT', body }), undefined, LIMIT, (c) =>
      chunks.push(c),
    );
    expect(read).toEqual({ sha256: sha256(body), size: body.length });
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    await expect(
      readHashedBody(new Request('http://x/', { method: 'PUT', body: randomBytes(LIMIT + 1) }), undefined, LIMIT),
    ).rejects.toMatchObject({ status: 413 });
    const empty = await readHashedBody(new Request('http://x/', { method: 'PUT' }), undefined, LIMIT);
    expect(empty.size).toBe(0);
  });

  it('hashes only when asked, including when the answer comes while the body arrives', async () => {
    const body = randomBytes(500_000);
    // Fifty chunks a millisecond or more apart, so some arrive before a late answer and some after.
    const chunked = () => {
      let o = 0;
      return new ReadableStream<Uint8Array>({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 1));
          if (o >= body.length) return c.close();
          c.enqueue(body.subarray(o, o + 10_000));
          o += 10_000;
        },
      });
    };
    const read = (hashed: boolean | Promise<boolean>) =>
      readHashedBody(
        new Request('http://x/', { method: 'PUT', body: chunked(), duplex: 'half' } as RequestInit),
        undefined,
        LIMIT,
        () => {},
        hashed,
      );
    const later = (value: boolean, ms: number) => new Promise<boolean>((r) => setTimeout(() => r(value), ms));
    expect(await read(false)).toEqual({ sha256: null, size: body.length });
    expect(await read(later(true, 5))).toEqual({ sha256: sha256(body), size: body.length });
    expect(await read(later(true, 0))).toEqual({ sha256: sha256(body), size: body.length });
    expect(await read(later(false, 5))).toEqual({ sha256: null, size: body.length });
    // A failed lookup (the caller's own error to report) is no hash, not a hang.
    expect(await read(Promise.reject(new Error('no such lease')))).toEqual({ sha256: null, size: body.length });
  });
});
