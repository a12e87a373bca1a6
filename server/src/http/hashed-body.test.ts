import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from './app-error.ts';
import { BodyCollector, readHashedBody } from './hashed-body.ts';

const LIMIT = 1 << 20;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('readHashedBody', () => {
  // A real socket, so the Node stream path runs as under the server: it answers with what it read.
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      readHashedBody(new Request('http://unused/'), req, LIMIT).then(
        ({ bytes, sha256: hash }) =>
          res.end(JSON.stringify({ size: bytes.length, hash, offset: bytes.byteOffset, first: bytes[0] })),
        (err: unknown) => res.writeHead(err instanceof AppError ? err.status : 500).end(String(err)),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads and hashes a body from the socket, in a buffer of its own', async () => {
    const body = randomBytes(700_000);
    const res = await fetch(url, { method: 'PUT', body });
    expect(await res.json()).toEqual({ size: body.length, hash: sha256(body), offset: 0, first: body[0] });
  });

  it('stops at the limit with 413 and still answers on the same connection', async () => {
    const res = await fetch(url, { method: 'PUT', body: randomBytes(LIMIT + 1) });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain(`limit of ${LIMIT} bytes`);
  });

  it('reads a Request body the same way when there is no socket (app.request)', async () => {
    const body = randomBytes(300_000);
    const read = await readHashedBody(new Request('http://x/', { method: 'PUT', body }), undefined, LIMIT);
    expect(read.sha256).toBe(sha256(body));
    expect(Buffer.from(read.bytes).equals(body)).toBe(true);
    await expect(
      readHashedBody(new Request('http://x/', { method: 'PUT', body: randomBytes(LIMIT + 1) }), undefined, LIMIT),
    ).rejects.toMatchObject({ status: 413 });
    const empty = await readHashedBody(new Request('http://x/', { method: 'PUT' }), undefined, LIMIT);
    expect(empty.bytes.length).toBe(0);
  });

  it('copies chunks into place once told the length, and keeps every byte when that length is wrong', async () => {
    const body = randomBytes(500_000);
    const chunked = () =>
      new Request('http://x/', {
        method: 'PUT',
        // Several chunks, so a declared length is filled piece by piece.
        body: new ReadableStream({
          start(c) {
            for (let at = 0; at < body.length; at += 65_536) c.enqueue(body.subarray(at, at + 65_536));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    for (const declared of [body.length, body.length - 70_000, body.length + 1_000, 10]) {
      const collector = new BodyCollector();
      const reading = readHashedBody(chunked(), undefined, LIMIT, undefined, collector);
      // Told after some chunks may have come already, as the upload route does after its lease lookup.
      await Promise.resolve();
      collector.expect(declared);
      const read = await reading;
      expect(read.bytes.byteOffset).toBe(0);
      expect(Buffer.from(read.bytes).equals(body)).toBe(true);
      expect(read.sha256).toBe(sha256(body));
    }
  });
});
