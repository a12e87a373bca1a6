import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cifar10Batch, gzip, idxImages, idxLabels, pngImage, tarArchive } from '../../test/dataset-files.ts';
import { createTestApp } from '../../test/test-app.ts';
import { databaseKinds } from '../../test/test-database.ts';

type ErrorJson = { error: { code: string; message: string } };

describe.each(databaseKinds())('admin dataset import API on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  const importRequest = (body: unknown) => t.postJson('/api/admin/datasets', body);
  const upload = (bytes: Uint8Array) => t.upload(bytes);

  beforeAll(async () => {
    t = await createTestApp(kind, { COOPT_MAX_BODY_BYTES: '4096', COOPT_MAX_UPLOAD_BYTES: '200000' });
  });
  afterAll(() => t.close());

  it('refuses requests without the admin token (401) and with a wrong one (403)', async () => {
    const none = await t.app.request('/api/admin/datasets');
    expect(none.status).toBe(401);
    expect(((await none.json()) as ErrorJson).error.code).toBe('unauthorized');
    const wrong = await t.app.request('/api/admin/datasets', { headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as ErrorJson).error.code).toBe('forbidden');
    const upload = await t.app.request('/api/admin/blobs', { method: 'POST', body: 'x' });
    expect(upload.status).toBe(401);
  });

  it('imports gzipped IDX, CIFAR batches and a tar of images from uploads', async () => {
    const idx = await importRequest({
      format: 'idx',
      name: 'up-idx',
      images: { blob: await upload(gzip(idxImages(5, 2, 2))) },
    });
    expect(idx.status).toBe(201);
    expect(await idx.json()).toMatchObject({ count: 5, height: 2, width: 2, channels: 1, format: 'idx' });

    const cifar = await importRequest({
      format: 'cifar',
      name: 'up-cifar',
      batches: [{ blob: await upload(cifar10Batch([1, 2, 3]).file) }],
    });
    expect(cifar.status).toBe(201);
    expect(await cifar.json()).toMatchObject({ count: 3, height: 32, width: 32, channels: 3 });

    const tar = tarArchive([
      { name: 'shoes/', type: '5' },
      { name: 'shoes/a.png', data: pngImage(6, 6, false, 1).file },
      { name: 'bags/b.png', data: pngImage(6, 6, false, 2).file },
    ]);
    const images = await importRequest({
      format: 'images',
      name: 'up-images',
      archive: { blob: await upload(gzip(tar)), fileName: 'pics.tar.gz' },
    });
    expect(images.status).toBe(201);
    expect(await images.json()).toMatchObject({ count: 2, height: 6, width: 6, channels: 3 });

    const list = (await (await t.app.request('/api/admin/datasets', { headers: t.admin })).json()) as {
      datasets: { name: string; hasLabels: boolean; classNames: string[] | null }[];
    };
    expect(list.datasets.map((d) => [d.name, d.hasLabels])).toEqual([
      ['up-idx', false],
      ['up-cifar', true],
      ['up-images', true],
    ]);
    expect(list.datasets[2]?.classNames).toEqual(['shoes', 'bags']);
  });

  it('answers a bad file with 422 naming the file and offset, and keeps what was stored', async () => {
    const bad = idxImages(4, 2, 2);
    bad.writeUInt32BE(0x12345678, 0);
    const res = await importRequest({
      format: 'idx',
      name: 'bad',
      images: { blob: await upload(bad), fileName: 'train-images.idx' },
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorJson;
    expect(body.error.code).toBe('bad_dataset_file');
    expect(body.error.message).toContain('train-images.idx at byte offset 0: wrong magic 0x12345678');

    const mismatch = await importRequest({
      format: 'idx',
      name: 'mismatch',
      images: { blob: await upload(idxImages(4, 2, 2)) },
      labels: { blob: await upload(idxLabels([1, 2])), fileName: 'labels.idx' },
    });
    expect(mismatch.status).toBe(422);
    expect(((await mismatch.json()) as ErrorJson).error.message).toContain(
      'labels.idx at byte offset 4: holds 2 labels',
    );

    const escaping = await importRequest({
      format: 'images',
      name: 'escape',
      archive: { blob: await upload(tarArchive([{ name: '../../x.png', data: pngImage(2, 2, false).file }])) },
    });
    expect(escaping.status).toBe(422);
    expect(((await escaping.json()) as ErrorJson).error.message).toContain('escapes the target directory');

    const names = ((await (await t.app.request('/api/datasets')).json()) as { datasets: { name: string }[] }).datasets;
    expect(names.map((d) => d.name)).toEqual(['up-idx', 'up-cifar', 'up-images']);
  });

  it('answers 409 for a taken name, 404 for an unknown blob or source', async () => {
    const key = await upload(idxImages(3, 2, 2));
    const taken = await importRequest({ format: 'idx', name: 'up-idx', images: { blob: key } });
    expect(taken.status).toBe(409);
    expect(((await taken.json()) as ErrorJson).error.message).toContain('"up-idx" already exists');
    const missing = await importRequest({ format: 'idx', name: 'n', images: { blob: 'e'.repeat(64) } });
    expect(missing.status).toBe(404);
    const source = await importRequest({ format: 'source', source: 'imagenet' });
    expect(source.status).toBe(404);
  });

  it('validates the request body: hostile names, bad keys, malformed JSON, huge bodies', async () => {
    const hostile = await importRequest({ format: 'idx', name: '../../etc', images: { blob: 'a'.repeat(64) } });
    expect(hostile.status).toBe(400);
    expect(((await hostile.json()) as ErrorJson).error.message).toContain('json.name');
    const badKey = await importRequest({ format: 'idx', name: 'k', images: { blob: '../x' } });
    expect(badKey.status).toBe(400);
    expect(((await badKey.json()) as ErrorJson).error.message).toContain('json.images.blob');
    const malformed = await t.app.request('/api/admin/datasets', {
      method: 'POST',
      headers: { ...t.admin, 'content-type': 'application/json' },
      body: '{"format": "idx",',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorJson).error.message).toMatch(/malformed json/i);
    const huge = await importRequest({ format: 'idx', name: 'x'.repeat(10_000) });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as ErrorJson).error.code).toBe('payload_too_large');
  });

  it('refuses uploads over the upload limit and empty uploads, storing nothing', async () => {
    const big = await t.app.request('/api/admin/blobs', {
      method: 'POST',
      body: new Uint8Array(300_000),
      headers: t.admin,
    });
    expect(big.status).toBe(413);
    const streamed = new ReadableStream({
      pull(controller) {
        controller.enqueue(new Uint8Array(64_000));
      },
    });
    const chunked = await t.app.request('/api/admin/blobs', {
      method: 'POST',
      body: streamed,
      headers: t.admin,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    const empty = await t.app.request('/api/admin/blobs', {
      method: 'POST',
      body: new Uint8Array(0),
      headers: t.admin,
    });
    expect(empty.status).toBe(400);
  });

  it('lists the known sources with availability', async () => {
    const res = await t.app.request('/api/admin/datasets/sources', { headers: t.admin });
    const body = (await res.json()) as { sources: { id: string; available: boolean }[] };
    expect(body.sources.find((s) => s.id === 'fashion-mnist-test')?.available).toBe(true);
  });
});
