import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idxImages, idxLabels, pixelsFor } from '../../test/dataset-files.ts';
import { createTestApp } from '../../test/test-app.ts';
import { databaseKinds } from '../../test/test-database.ts';

describe.each(databaseKinds())('datasets API on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  const pixels = pixelsFor(12, 9);
  let datasetId: number;

  const upload = async (bytes: Uint8Array) => {
    const res = await t.app.request('/api/admin/blobs', { method: 'POST', body: bytes, headers: t.admin });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  };

  beforeAll(async () => {
    t = await createTestApp(kind);
    const images = await upload(idxImages(12, 3, 3, pixels));
    const labels = await upload(idxLabels(Array.from({ length: 12 }, (_, i) => i % 4)));
    const res = await t.app.request('/api/admin/datasets', {
      method: 'POST',
      headers: { ...t.admin, 'content-type': 'application/json' },
      body: JSON.stringify({ format: 'idx', name: 'api-idx', images: { blob: images }, labels: { blob: labels } }),
    });
    expect(res.status).toBe(201);
    datasetId = ((await res.json()) as { id: number }).id;
  });
  afterAll(() => t.close());

  it('lists datasets publicly without any label information', async () => {
    const res = await t.app.request('/api/datasets');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { datasets: Record<string, unknown>[] };
    expect(body.datasets).toHaveLength(1);
    expect(body.datasets[0]).toMatchObject({
      id: datasetId,
      name: 'api-idx',
      count: 12,
      height: 3,
      width: 3,
      channels: 1,
    });
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/label|class/i);
  });

  it('shows admins that labels exist', async () => {
    const res = await t.app.request('/api/admin/datasets', { headers: t.admin });
    const body = (await res.json()) as { datasets: { hasLabels: boolean; classNames: string[] }[] };
    expect(body.datasets[0]).toMatchObject({ hasLabels: true, classNames: ['0', '1', '2', '3'] });
  });

  it('serves raw sample bytes by range with their shape', async () => {
    const res = await t.app.request(`/api/datasets/${datasetId}/samples?start=3&count=4`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-coopt-shape')).toBe('4,3,3,1');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(Buffer.compare(bytes, pixels.subarray(27, 63))).toBe(0);
  });

  it.each([
    ['start=0&count=13', 400, 'run past'],
    ['start=-1&count=2', 400, 'query.start'],
    ['start=0&count=99999', 400, 'query.count'],
    ['count=2', 400, 'query.start'],
  ])('refuses the sample query %s', async (query, status, words) => {
    const res = await t.app.request(`/api/datasets/${datasetId}/samples?${query}`);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('bad_request');
    expect(body.error.message).toContain(words);
  });

  it('answers 404 for an unknown dataset and 400 for a non-numeric id', async () => {
    expect((await t.app.request('/api/datasets/999')).status).toBe(404);
    const res = await t.app.request('/api/datasets/abc');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('param.id');
  });
});
