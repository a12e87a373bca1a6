import fs from 'node:fs';
import path from 'node:path';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { repoRoot } from '../paths.ts';
import { findPriorByName } from './prior-views.ts';
import { registerPrior } from './register-prior.ts';

export const zooDir = path.join(repoRoot, 'zoo');

export interface ZooEntry {
  name: string;
  file: string;
  architecture: string;
  training: string;
  epochs: number;
  featureOutput: string;
  featureDim: number;
  sha256: string;
  linearProbeAccuracy: number;
  preprocessing: { pixelScale: number; mean: number[]; std: number[] };
}

export function readZooManifest(): ZooEntry[] {
  const file = path.join(zooDir, 'manifest.json');
  if (!fs.existsSync(file)) return [];
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { priors: ZooEntry[] }).priors;
}

/** Registers every committed zoo prior not registered yet (the demo campaign's priors). */
export async function registerZoo(
  deps: { database: Database; blobs: BlobStore },
  options: { maxModelBytes: number; onPrior?: (name: string, created: boolean) => void },
): Promise<void> {
  for (const entry of readZooManifest()) {
    if (await findPriorByName(deps.database, entry.name)) {
      options.onPrior?.(entry.name, false);
      continue;
    }
    const blob = await deps.blobs.put(fs.createReadStream(path.join(zooDir, entry.file)));
    await registerPrior(deps, {
      name: entry.name,
      onnxBlobKey: blob.key,
      featureTensor: entry.featureOutput,
      normalization: entry.preprocessing,
      maxModelBytes: options.maxModelBytes,
    });
    options.onPrior?.(entry.name, true);
  }
}
