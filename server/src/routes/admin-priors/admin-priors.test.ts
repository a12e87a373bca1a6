import fs from 'node:fs';
import path from 'node:path';
import { encodeOnnxModel, type GraphModelJson, loadConvertedModel, withGraphOutput } from '@coopt/shared/converter';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zooDir } from '../../priors/prior-zoo.ts';
import { initTfjs, tf } from '../../priors/tfjs-runtime.ts';
import { createTestApp } from '../../test/test-app.ts';
import { databaseKinds } from '../../test/test-database.ts';

type ErrorJson = { error: { code: string; message: string } };
const opTest = (name: string) => fs.readFileSync(path.join(zooDir, 'op-tests', `${name}.onnx`));

function unsupportedOpModel() {
  const info = (name: string) => ({
    name,
    type: {
      tensorType: {
        elemType: 1,
        shape: { dim: [{ dimParam: 'b' }, { dimValue: 1 }, { dimValue: 4 }, { dimValue: 4 }] },
      },
    },
  });
  return encodeOnnxModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      node: [{ name: 'roi_align_1', opType: 'RoiAlign', input: ['input'], output: ['out'] }],
      input: [info('input')],
      output: [info('out')],
    },
  });
}

describe.each(databaseKinds())('prior registration API on %s', (kind) => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  const post = (body: unknown) => t.postJson('/api/admin/priors', body);
  const upload = (bytes: Uint8Array) => t.upload(bytes);

  beforeAll(async () => {
    t = await createTestApp(kind, { COOPT_MAX_MODEL_BYTES: '200000' });
    await t.importDemoDataset();
  });
  afterAll(() => t.close());

  it('converts, verifies against onnxruntime, stores, and serves the graph model a browser can load', async () => {
    const onnx = opTest('squeeze-fire-concat');
    const res = await post({
      name: 'fire',
      onnx: { blob: await upload(onnx) },
      normalization: { pixelScale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    });
    expect(res.status).toBe(201);
    const prior = (await res.json()) as {
      id: number;
      featureDim: number;
      modelUrl: string;
      verification: { maxRelError: number; images: number };
    };
    expect(prior.featureDim).toBe(16 * 16 * 16);
    expect(prior.verification.images).toBe(8);
    expect(prior.verification.maxRelError).toBeLessThan(1e-3);

    const list = (await (await t.app.request('/api/priors')).json()) as { priors: { name: string }[] };
    expect(list.priors.map((p) => p.name)).toEqual(['fire']);

    const modelJson = (await (await t.app.request(prior.modelUrl)).json()) as GraphModelJson;
    expect(modelJson.weightsManifest[0]?.paths).toEqual(['weights.bin']);
    const weights = new Uint8Array(await (await t.app.request(`/api/priors/${prior.id}/weights.bin`)).arrayBuffer());
    await initTfjs();
    const model = await loadConvertedModel({ modelJson, weightData: weights });
    const x = tf.randomUniform([2, 16, 16, 3]);
    const y = (await (model.execute(x) as tf.Tensor).data()) as Float32Array;
    const session = await ort.InferenceSession.create(withGraphOutput(onnx, 'output'));
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const ref = (
      await session.run({ input: new ort.Tensor('float32', (await nchw.data()) as Float32Array, [2, 3, 16, 16]) })
    ).output?.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs((ref[i] as number) - (y[i] as number)));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('refuses bad ONNX files with a clear 4xx and stores nothing', async () => {
    const garbage = await post({
      name: 'garbage',
      onnx: { blob: await upload(new TextEncoder().encode('not an onnx model at all')) },
    });
    expect(garbage.status).toBe(422);
    expect(((await garbage.json()) as ErrorJson).error).toMatchObject({ code: 'bad_model' });

    const unsupported = await post({ name: 'roi', onnx: { blob: await upload(unsupportedOpModel()) } });
    expect(unsupported.status).toBe(422);
    expect(((await unsupported.json()) as ErrorJson).error.message).toBe(
      'unsupported op RoiAlign (node "roi_align_1")',
    );

    const cut = await post({
      name: 'cut',
      onnx: { blob: await upload(opTest('channel-shuffle')) },
      featureTensor: 'nowhere',
    });
    expect(cut.status).toBe(422);
    expect(((await cut.json()) as ErrorJson).error.message).toContain('no node produces "nowhere"');

    const big = await post({ name: 'big', onnx: { blob: await upload(new Uint8Array(300_000)) } });
    expect(big.status).toBe(413);

    const list = (await (await t.app.request('/api/priors')).json()) as { priors: { name: string }[] };
    expect(list.priors.map((p) => p.name)).toEqual(['fire']);
  });

  it('streams conversion and verification progress as NDJSON, ending in the prior or the named error', async () => {
    const lines = async (body: unknown) => {
      const res = await t.postJson('/api/admin/priors/stream', body);
      expect(res.headers.get('content-type')).toContain('application/x-ndjson');
      return (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; phase?: string; status?: number; prior?: { name: string } });
    };
    const ok = await lines({ name: 'shuffle-streamed', onnx: { blob: await upload(opTest('channel-shuffle')) } });
    expect(ok.filter((l) => l.type === 'progress').map((l) => l.phase)).toEqual(
      expect.arrayContaining(['convert', 'verify', 'store']),
    );
    expect(ok.at(-1)).toMatchObject({ type: 'done', prior: { name: 'shuffle-streamed' } });
    const bad = await lines({ name: 'roi-streamed', onnx: { blob: await upload(unsupportedOpModel()) } });
    expect(bad.at(-1)).toMatchObject({
      type: 'error',
      status: 422,
      error: { code: 'bad_model', message: 'unsupported op RoiAlign (node "roi_align_1")' },
    });
    const invalid = await t.postJson('/api/admin/priors/stream', { name: 'Bad Name' });
    expect(invalid.status).toBe(400);
  });

  it('validates the request: token, names, unknown blobs, duplicate names', async () => {
    const noToken = await t.app.request('/api/admin/priors', { method: 'POST', body: '{}' });
    expect(noToken.status).toBe(401);
    const hostile = await post({ name: '../../../etc/passwd', onnx: { blob: 'a'.repeat(64) } });
    expect(hostile.status).toBe(400);
    expect(((await hostile.json()) as ErrorJson).error.message).toContain('json.name');
    const both = await post({ name: 'x', onnx: { blob: 'a'.repeat(64) }, featureTensor: 'a', inputOfNode: 'b' });
    expect(both.status).toBe(400);
    const nan = await post({ name: 'x', onnx: { blob: 'a'.repeat(64) }, normalization: { std: [0] } });
    expect(nan.status).toBe(400);
    const missing = await post({ name: 'x', onnx: { blob: 'b'.repeat(64) } });
    expect(missing.status).toBe(404);
    const dup = await post({ name: 'fire', onnx: { blob: await upload(opTest('squeeze-fire-concat')) } });
    expect(dup.status).toBe(409);
    expect((await t.app.request('/api/priors/999/model.json')).status).toBe(404);
  });
});
