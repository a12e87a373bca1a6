import type { BlobStore } from '../blobs/blob-store.ts';
import { findDatasetByName } from '../datasets/dataset-importer.ts';
import type { Database } from '../db/database.ts';
import { listPriors } from '../priors/prior-views.ts';
import { readZooManifest } from '../priors/prior-zoo.ts';
import { createCampaign, listCampaigns } from './create-campaign.ts';

export const DEMO_CAMPAIGN = 'fashion-mnist-demo';

/** The campaign `pnpm start` leaves ready: the zoo priors over the committed Fashion-MNIST test split. */
export async function ensureDemoCampaign(deps: {
  database: Database;
  blobs: BlobStore;
}): Promise<'created' | 'exists' | 'unavailable'> {
  if ((await listCampaigns(deps.database)).some((c) => c.name === DEMO_CAMPAIGN)) return 'exists';
  const dataset = await findDatasetByName(deps.database, 'fashion-mnist-test');
  const zoo = new Set(readZooManifest().map((z) => z.name));
  const priorIds = (await listPriors(deps.database)).filter((p) => zoo.has(p.name)).map((p) => p.id);
  if (!dataset || priorIds.length === 0) return 'unavailable';
  await createCampaign(deps, {
    name: DEMO_CAMPAIGN,
    datasetId: dataset.id,
    priorIds,
    shardSize: 500,
    sharedSetSize: 500,
    targetDim: 64,
    seed: 1,
    verification: { kind: 'replication', replicas: 2, tolerance: 1e-3 },
  });
  return 'created';
}
