import { SeededRandom } from '@coopt/shared/math';
import { describe, expect, it } from 'vitest';
import { splitCampaign } from './campaign-split.ts';

describe('campaign split', () => {
  it('covers every sample exactly once, over 200 random sizes', () => {
    const rng = new SeededRandom(99);
    for (let trial = 0; trial < 200; trial++) {
      const count = 2 + (rng.nextUint32() % 5000);
      const shared = 1 + (rng.nextUint32() % Math.max(1, Math.floor(count / 4)));
      const shardSize = 1 + (rng.nextUint32() % 700);
      const seed = rng.nextUint32();
      const split = splitCampaign(count, shared, shardSize, seed);
      const seen = new Uint8Array(count);
      for (const id of split.shared) seen[id] = (seen[id] as number) + 1;
      for (const shard of split.shards) for (const id of shard) seen[id] = (seen[id] as number) + 1;
      expect(seen.every((s) => s === 1)).toBe(true);
      expect(split.shared.length).toBe(shared);
      expect(split.shards.length).toBe(Math.ceil((count - shared) / shardSize));
      expect(split.shards.slice(0, -1).every((s) => s.length === shardSize)).toBe(true);
      expect(split.shards.at(-1)?.length).toBe(count - shared - shardSize * (split.shards.length - 1));
    }
  });

  it('is the same for the same seed and different for another', () => {
    const a = splitCampaign(1000, 100, 64, 7);
    const b = splitCampaign(1000, 100, 64, 7);
    const c = splitCampaign(1000, 100, 64, 8);
    expect(Array.from(a.shared)).toEqual(Array.from(b.shared));
    expect(Array.from(a.shared)).not.toEqual(Array.from(c.shared));
  });

  it('refuses a shared set that leaves nothing to shard', () => {
    expect(() => splitCampaign(100, 100, 10, 1)).toThrow('leaves nothing');
  });
});
