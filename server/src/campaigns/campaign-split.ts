import { SeededRandom } from '@coopt/shared/math';

export interface CampaignSplit {
  /** S_X: the shared set every prior is scored and aligned on. */
  shared: Int32Array;
  /** Non-overlapping shards of `shardSize` (the last may be smaller) covering every other sample once. */
  shards: Int32Array[];
}

/**
 * CoOpt step 1, distribute: a seeded permutation of the sample ids; its first `sharedSetSize`
 * form the shared set, the rest is cut into shards in order. The same seed gives the same split
 * on any machine.
 */
export function splitCampaign(count: number, sharedSetSize: number, shardSize: number, seed: number): CampaignSplit {
  if (sharedSetSize >= count)
    throw new RangeError(`a shared set of ${sharedSetSize} leaves nothing of ${count} samples to shard`);
  const order = new SeededRandom(seed).permutation(count);
  const shared = order.slice(0, sharedSetSize).sort();
  const shards: Int32Array[] = [];
  for (let start = sharedSetSize; start < count; start += shardSize) {
    shards.push(order.slice(start, Math.min(count, start + shardSize)).sort());
  }
  return { shared, shards };
}
