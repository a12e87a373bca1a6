import { createHash } from 'node:crypto';
import { decodeTargets } from '@coopt/shared/math';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import {
  alignments,
  campaigns,
  priorModels,
  priorScores,
  results,
  roundExports,
  rounds,
  shards,
  trainingRuns,
  workItems,
} from '../db/schema.ts';
import { npyHeader } from './npy-format.ts';
import { zipStream } from './zip-stream.ts';

type Deps = { database: Database; blobs: BlobStore };

interface Part {
  blobKey: string;
  rows: number;
  priorId: number;
  /** Set when the shard's targets did not change this round and were made in that earlier round. */
  carriedFromRound: number | null;
}

/** Each merged shard's verified upload, decoded when the writer reaches it (never all at once). */
async function* partsOf(deps: Deps, parts: Part[], pick: (t: ReturnType<typeof decodeTargets>, p: Part) => Uint8Array) {
  for (const p of parts) yield pick(decodeTargets(await deps.blobs.get(p.blobKey)), p);
}

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const idsAsInt64 = (t: ReturnType<typeof decodeTargets>) => bytes(BigInt64Array.from(t.ids, (v) => BigInt(v)));
const priorColumn = (t: ReturnType<typeof decodeTargets>, p: Part) =>
  bytes(new Int32Array(t.ids.length).fill(p.priorId));

/**
 * Completes a round once every shard has verified targets (CoOpt step 6, merge): writes the merged
 * dataset (targets float32 [N, n], sample ids int64 [N], prior ids int32 [N]) as .safetensors and
 * .npz, plus a manifest, into the blob store, streaming shard by shard.
 */
export async function completeRound(deps: Deps, roundId: number): Promise<boolean> {
  const { db } = deps.database;
  // Cheap check first, after every settled shard, in one statement: is the round still taking
  // targets, and is any of its target items unfinished?
  const [open] = await deps.database.rows<{ pending: boolean }>(
    sql`select exists (select 1 from work_items where round_id = ${roundId} and phase = 'target' and status <> 'done') as pending
        from rounds where id = ${roundId} and status = 'targeting'`,
    { prepare: true },
  );
  if (!open || open.pending) return false;
  const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId));
  if (round?.status !== 'targeting') return false;
  const items = await db
    .select({ item: workItems, shard: shards })
    .from(workItems)
    .innerJoin(shards, eq(shards.id, workItems.shardId))
    .where(and(eq(workItems.roundId, roundId), eq(workItems.phase, 'target')))
    .orderBy(asc(shards.index));
  if (items.length === 0 || items.some((i) => i.item.status !== 'done')) return false;
  const [campaign] = await db.select().from(campaigns).where(eq(campaigns.id, round.campaignId));
  if (!campaign) return false;

  const parts: Part[] = [];
  const agreement: number[] = [];
  for (const { item } of items) {
    const verified = await db
      .select()
      .from(results)
      .where(and(eq(results.workItemId, item.id), eq(results.verified, true)))
      .orderBy(asc(results.id));
    const first = verified[0];
    if (!first) return false;
    parts.push({
      blobKey: first.blobKey,
      rows: first.rows,
      priorId: item.modelId,
      carriedFromRound: item.carriedFromRound,
    });
    agreement.push(verified.length);
  }
  const n = campaign.targetDim;
  const total = parts.reduce((s, p) => s + p.rows, 0);

  const targetsA = () => partsOf(deps, parts, (t) => bytes(t.values));
  const idsA = () => partsOf(deps, parts, idsAsInt64);
  const priorsA = () => partsOf(deps, parts, priorColumn);

  const tBytes = total * n * 4;
  const header: Record<string, unknown> = {
    __metadata__: { campaign: campaign.name, round: String(round.number), format: 'coopt-targets-v1' },
    targets: { dtype: 'F32', shape: [total, n], data_offsets: [0, tBytes] },
    sample_ids: { dtype: 'I64', shape: [total], data_offsets: [tBytes, tBytes + 8 * total] },
    prior_ids: { dtype: 'I32', shape: [total], data_offsets: [tBytes + 8 * total, tBytes + 12 * total] },
  };
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (headerText.length % 8)) % 8);
  const safetensors = await deps.blobs.put(
    (async function* () {
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, BigInt(headerText.length), true);
      yield len;
      yield new TextEncoder().encode(headerText);
      yield* targetsA();
      yield* idsA();
      yield* priorsA();
    })(),
  );
  const npz = await deps.blobs.put(
    zipStream([
      { name: 'targets.npy', data: () => withHeader(npyHeader('<f4', [total, n]), targetsA()) },
      { name: 'sample_ids.npy', data: () => withHeader(npyHeader('<i8', [total]), idsA()) },
      { name: 'prior_ids.npy', data: () => withHeader(npyHeader('<i4', [total]), priorsA()) },
    ]),
  );

  const scores = await db
    .select({ modelId: priorScores.modelId, name: priorModels.name, uniformity: priorScores.uniformity })
    .from(priorScores)
    .innerJoin(priorModels, eq(priorModels.id, priorScores.modelId))
    .where(eq(priorScores.roundId, roundId));
  const fits = await db.select().from(alignments).where(eq(alignments.roundId, roundId));
  const sha = async (key: string) =>
    createHash('sha256')
      .update(await deps.blobs.get(key))
      .digest('hex');
  const manifest = {
    campaign: { id: campaign.id, name: campaign.name, datasetId: campaign.datasetId, seed: campaign.seed },
    round: round.number,
    rows: total,
    targetDim: n,
    bestPriorId: round.bestModelId,
    priors: scores.map((s) => {
      const fit = fits.find((f) => f.modelId === s.modelId);
      return {
        id: s.modelId,
        name: s.name,
        uniformity: s.uniformity,
        reference: fit?.isReference ?? false,
        heldOutR2: fit?.heldOutR2 ?? null,
        residual: fit?.residual ?? null,
      };
    }),
    shards: parts.map((p, i) => ({
      rows: p.rows,
      priorId: p.priorId,
      agreeingReplicas: agreement[i],
      madeInRound: p.carriedFromRound ?? round.number,
    })),
    files: {
      'targets.safetensors': { size: safetensors.size, sha256: await sha(safetensors.key) },
      'targets.npz': { size: npz.size, sha256: await sha(npz.key) },
    },
    arrays: { targets: `float32 [${total}, ${n}]`, sample_ids: `int64 [${total}]`, prior_ids: `int32 [${total}]` },
  };
  const manifestBlob = await deps.blobs.put(new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));

  await db.transaction(async (tx) => {
    await tx.insert(roundExports).values([
      { roundId, format: 'safetensors', blobKey: safetensors.key, size: safetensors.size },
      { roundId, format: 'npz', blobKey: npz.key, size: npz.size },
      { roundId, format: 'manifest', blobKey: manifestBlob.key, size: manifestBlob.size },
    ]);
    await tx.update(rounds).set({ status: 'complete' }).where(eq(rounds.id, roundId));
    // At 100% coverage a student-training job is queued for the training workers.
    await tx
      .insert(trainingRuns)
      .values({ roundId, status: 'queued', config: { reason: 'round-complete', round: round.number } });
    await tx.update(campaigns).set({ status: 'complete' }).where(eq(campaigns.id, campaign.id));
  });
  return true;
}

async function* withHeader(header: Uint8Array, body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield header;
  yield* body;
}
