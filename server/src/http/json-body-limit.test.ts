import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from './app-error.ts';
import { handleError } from './error-handler.ts';
import { jsonBodyLimit } from './json-body-limit.ts';
import { validate } from './validate.ts';

const LIMIT = 1000;
const app = new Hono()
  .onError(handleError)
  .use(
    jsonBodyLimit(LIMIT, () => {
      throw AppError.payloadTooLarge(LIMIT);
    }),
  )
  .get('/ping', (c) => c.text('pong'))
  .post('/echo', validate('json', z.object({ name: z.string() })), (c) => c.json(c.req.valid('json')));

type ErrorJson = { error: { code: string; message: string } };

describe('the JSON body limit', () => {
  let server: ReturnType<typeof serve>;
  let url: string;
  beforeAll(async () => {
    await new Promise<void>((ready) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => ready());
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  const post = (
    body: string | ReadableStream<Uint8Array>,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) => fetch(`${url}/echo`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);

  it("hands a JSON body read from Node's stream to the validator", async () => {
    const res = await post(JSON.stringify({ name: 'ä-✓' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'ä-✓' });
    expect(await (await fetch(`${url}/ping`)).text()).toBe('pong');
  });

  it('refuses a body declared too large, and one that grows too large with no declared length (413)', async () => {
    const declared = await post(JSON.stringify({ name: 'x'.repeat(LIMIT) }));
    expect(declared.status).toBe(413);
    expect(((await declared.json()) as ErrorJson).error.code).toBe('payload_too_large');
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 400;
        controller.enqueue(new Uint8Array(400).fill(32));
        if (sent > 100_000) controller.close();
      },
    });
    const chunked = await post(endless);
    expect(chunked.status).toBe(413);
    expect(chunked.headers.get('connection')).toBe('close');
    expect(((await chunked.json()) as ErrorJson).error.code).toBe('payload_too_large');
    // The server still answers afterwards.
    expect((await post(JSON.stringify({ name: 'after' }))).status).toBe(200);
  });

  it('leaves malformed JSON and wrong fields to the validator (400 naming the problem)', async () => {
    const malformed = await post('{"name": ');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorJson).error.message).toMatch(/malformed json/i);
    const wrong = await post(JSON.stringify({ name: 3 }));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as ErrorJson).error.message).toContain('json.name');
  });

  it("falls back to hono's body limit without Node's stream (app.request)", async () => {
    const ok = await app.request('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'in-process' }),
    });
    expect(await ok.json()).toEqual({ name: 'in-process' });
    const big = await app.request('/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(LIMIT) }),
    });
    expect(big.status).toBe(413);
  });
});
