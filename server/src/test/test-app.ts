import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseKind } from '@coopt/shared';
import { createApp } from '../app.ts';
import { LocalBlobStore } from '../blobs/local-blob-store.ts';
import { importKnownSource } from '../datasets/import-request.ts';
import { findKnownSource } from '../datasets/known-sources.ts';
import { parseEnv } from '../env.ts';
import type { AppDeps } from '../http/app-env.ts';
import { zooDir } from '../priors/prior-zoo.ts';
import { openTestDatabase } from './test-database.ts';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** The real app on a throwaway database and blob directory, driven through app.request(). */
export async function createTestApp(kind: DatabaseKind, envOverrides: Record<string, string> = {}) {
  const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-app-'));
  const database = await openTestDatabase(kind);
  const deps: AppDeps = {
    env: parseEnv({ COOPT_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...envOverrides }),
    database,
    blobs: new LocalBlobStore(blobDir),
    adminToken: TEST_ADMIN_TOKEN,
    version: 'test',
  };
  const app = createApp(deps);
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  /** Uploads bytes as an admin and returns the blob key. */
  const upload = async (bytes: Uint8Array): Promise<string> => {
    const res = await app.request('/api/admin/blobs', { method: 'POST', body: bytes, headers: admin });
    if (res.status !== 201) throw new Error(`upload failed with ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { key: string }).key;
  };
  /** POSTs a JSON body as an admin. */
  const postJson = (path: string, body: unknown) =>
    app.request(path, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return {
    app,
    deps,
    admin,
    blobDir,
    /** Imports the committed Fashion-MNIST test split and returns its dataset id. */
    async importDemoDataset(): Promise<number> {
      const source = findKnownSource('fashion-mnist-test');
      if (!source) throw new Error('the demo data is missing');
      return (await importKnownSource(deps, source)).dataset.id;
    },
    upload,
    postJson,
    /**
     * Registers one of the zoo's Fashion-MNIST models (`zoo/models/<name>.onnx`, its `features`
     * output, the dataset's normalisation) as a prior, with any further fields; returns its id.
     */
    async registerZooPrior(name: string, fields: Record<string, unknown> = {}): Promise<number> {
      const res = await postJson('/api/admin/priors', {
        name,
        onnx: { blob: await upload(fs.readFileSync(path.join(zooDir, 'models', `${name}.onnx`))) },
        featureTensor: 'features',
        normalization: { pixelScale: 1 / 255, mean: [0.286], std: [0.353] },
        ...fields,
      });
      if (res.status !== 201) throw new Error(`prior ${name} refused with ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { id: number }).id;
    },
    close: async () => {
      await database.close();
      fs.rmSync(blobDir, { recursive: true, force: true });
    },
  };
}
