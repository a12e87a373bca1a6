import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  real,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export interface PriorVerification {
  maxRelError: number;
  images: number;
  datasetId: number;
  backend: string;
}

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const datasetFormat = pgEnum('dataset_format', ['idx', 'cifar', 'images']);

/** An unlabeled image dataset: N images of one shape, stored as uint8 HWC in sample ranges. */
export const datasets = pgTable('datasets', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  format: datasetFormat('format').notNull(),
  count: integer('count').notNull(),
  height: integer('height').notNull(),
  width: integer('width').notNull(),
  channels: integer('channels').notNull(),
  /** SHA-256 over the ordered sample-range blob keys: two imports of the same pixels agree. */
  sourceHash: text('source_hash').notNull(),
  createdAt: createdAt(),
});

/** A contiguous run of samples [start, start + count) of a dataset, held in one blob. */
const rangeTable = (name: string) =>
  pgTable(
    name,
    {
      datasetId: integer('dataset_id')
        .notNull()
        .references(() => datasets.id, { onDelete: 'cascade' }),
      start: integer('start').notNull(),
      count: integer('count').notNull(),
      blobKey: text('blob_key').notNull(),
    },
    (t) => [primaryKey({ columns: [t.datasetId, t.start] })],
  );

/** Pixels: uint8, height x width x channels per image. */
export const sampleRanges = rangeTable('sample_ranges');

/**
 * Evaluation labels, kept apart from the images: int32 per sample, one blob per range.
 * No volunteer-facing route reads this table.
 */
export const labelRanges = rangeTable('label_ranges');

export const datasetLabelSets = pgTable('dataset_label_sets', {
  datasetId: integer('dataset_id')
    .primaryKey()
    .references(() => datasets.id, { onDelete: 'cascade' }),
  classNames: jsonb('class_names').$type<string[]>(),
});

export const priorModelStatus = pgEnum('prior_model_status', ['converting', 'ready', 'rejected']);

/** A prior model psi_k: the uploaded ONNX file and its converted TF.js graph model. */
export const priorModels = pgTable('prior_models', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  status: priorModelStatus('status').notNull().default('converting'),
  onnxBlobKey: text('onnx_blob_key').notNull(),
  /** The converted TF.js graph model: model.json and its single weights file. */
  graphModelBlobKey: text('graph_model_blob_key'),
  weightsBlobKey: text('weights_blob_key'),
  featureTensor: text('feature_tensor'),
  /** Download size of the converted model (model.json + weights): devices may refuse larger ones. */
  modelBytes: bigint('model_bytes', { mode: 'number' }),
  /** How the conversion was checked against onnxruntime: error, images, backend. */
  verification: jsonb('verification').$type<PriorVerification>(),
  inputHeight: integer('input_height'),
  inputWidth: integer('input_width'),
  inputChannels: integer('input_channels'),
  pixelScale: real('pixel_scale'),
  mean: jsonb('mean').$type<number[]>(),
  std: jsonb('std').$type<number[]>(),
  featureDim: integer('feature_dim'),
  rejection: text('rejection'),
  createdAt: createdAt(),
});

export const campaignStatus = pgEnum('campaign_status', ['draft', 'running', 'complete', 'archived']);

export const campaigns = pgTable('campaigns', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  datasetId: integer('dataset_id')
    .notNull()
    .references(() => datasets.id),
  shardSize: integer('shard_size').notNull(),
  sharedSetSize: integer('shared_set_size').notNull(),
  targetDim: integer('target_dim').notNull(),
  seed: bigint('seed', { mode: 'number' }).notNull(),
  verificationPolicy: jsonb('verification_policy').notNull(),
  status: campaignStatus('status').notNull().default('draft'),
  createdAt: createdAt(),
});

export const campaignModels = pgTable(
  'campaign_models',
  {
    campaignId: integer('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    modelId: integer('model_id')
      .notNull()
      .references(() => priorModels.id),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.modelId] })],
);

/** One pass of score -> reference -> align -> target; the merged dataset is versioned per round. */
export const rounds = pgTable(
  'rounds',
  {
    id: serial('id').primaryKey(),
    campaignId: integer('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    bestModelId: integer('best_model_id').references(() => priorModels.id),
    /** S_Y*: the reference targets of the shared set (target codec). */
    referenceBlobKey: text('reference_blob_key'),
    /** CoOpt Eq. 3 on the shared set: the priors' targets before alignment (own random projections) and after. */
    inconsistencyBefore: doublePrecision('inconsistency_before'),
    inconsistencyAfter: doublePrecision('inconsistency_after'),
    status: text('status').notNull().default('scoring'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('rounds_campaign_number').on(t.campaignId, t.number)],
);

/** A campaign's samples split by its seed: the shared set (index -1) and fixed-size shards. */
export const shards = pgTable(
  'shards',
  {
    id: serial('id').primaryKey(),
    campaignId: integer('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    index: integer('index').notNull(),
    sampleCount: integer('sample_count').notNull(),
    /** int32 sample ids, in order. */
    sampleIdsBlobKey: text('sample_ids_blob_key').notNull(),
  },
  (t) => [uniqueIndex('shards_campaign_index').on(t.campaignId, t.index)],
);

export const workPhase = pgEnum('work_phase', ['score', 'align', 'target']);

export const workItems = pgTable(
  'work_items',
  {
    id: serial('id').primaryKey(),
    roundId: integer('round_id')
      .notNull()
      .references(() => rounds.id, { onDelete: 'cascade' }),
    phase: workPhase('phase').notNull(),
    shardId: integer('shard_id').references(() => shards.id),
    modelId: integer('model_id')
      .notNull()
      .references(() => priorModels.id),
    replicasWanted: integer('replicas_wanted').notNull().default(1),
    /** Live leases plus uploads: the claim reserves a replica by incrementing it under the row lock. */
    taken: integer('taken').notNull().default(0),
    /** open (needs replicas) -> leased (every replica leased or uploaded) -> done; back to open on expiry or dispute. */
    status: text('status').notNull().default('open'),
    /** A target item whose targets did not change this round: its result is the one made in that earlier round. */
    carriedFromRound: integer('carried_from_round'),
    createdAt: createdAt(),
  },
  (t) => [
    index('work_items_round_status').on(t.roundId, t.status),
    // Claims only ever look at claimable rows.
    index('work_items_open').on(t.id).where(sql`${t.status} = 'open'`),
  ],
);

export const volunteers = pgTable('volunteers', {
  id: uuid('id').primaryKey().defaultRandom(),
  tokenHash: text('token_hash').notNull().unique(),
  reputation: doublePrecision('reputation').notNull().default(1),
  credit: bigint('credit', { mode: 'number' }).notNull().default(0),
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
  createdAt: createdAt(),
});

export const leases = pgTable(
  'leases',
  {
    id: serial('id').primaryKey(),
    workItemId: integer('work_item_id')
      .notNull()
      .references(() => workItems.id, { onDelete: 'cascade' }),
    volunteerId: uuid('volunteer_id')
      .notNull()
      .references(() => volunteers.id),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
    active: boolean('active').notNull().default(true),
    /** Why the lease ended: uploaded, expired. */
    outcome: text('outcome'),
    createdAt: createdAt(),
  },
  (t) => [
    index('leases_expiry').on(t.active, t.expiresAt),
    index('leases_work_item').on(t.workItemId, t.active),
    // A volunteer holds at most one live lease on an item, however its claims race each other.
    uniqueIndex('leases_live_item_volunteer').on(t.workItemId, t.volunteerId).where(sql`${t.active}`),
  ],
);

export const results = pgTable(
  'results',
  {
    id: serial('id').primaryKey(),
    workItemId: integer('work_item_id')
      .notNull()
      .references(() => workItems.id, { onDelete: 'cascade' }),
    volunteerId: uuid('volunteer_id')
      .notNull()
      .references(() => volunteers.id),
    leaseId: integer('lease_id').references(() => leases.id),
    blobKey: text('blob_key').notNull(),
    checksum: text('checksum').notNull(),
    rows: integer('rows').notNull().default(0),
    verified: boolean('verified'),
    /** Spot checks: rows the server recomputed, and the milliseconds that cost. */
    checkedRows: integer('checked_rows').notNull().default(0),
    verifyMs: doublePrecision('verify_ms').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('results_item_volunteer').on(t.workItemId, t.volunteerId)],
);

/** CoOpt step 2: a prior's features on the shared set and their uniformity value, per round. */
export const priorScores = pgTable(
  'prior_scores',
  {
    roundId: integer('round_id')
      .notNull()
      .references(() => rounds.id, { onDelete: 'cascade' }),
    modelId: integer('model_id')
      .notNull()
      .references(() => priorModels.id),
    uniformity: doublePrecision('uniformity').notNull(),
    /** The accepted features (target codec), from the result the replicas agreed on. */
    featuresBlobKey: text('features_blob_key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.roundId, t.modelId] })],
);

/** CoOpt steps 3-4: how each prior's features map to the round's targets (W^T for the best prior, T_k for the others). */
export const alignments = pgTable(
  'alignments',
  {
    roundId: integer('round_id')
      .notNull()
      .references(() => rounds.id, { onDelete: 'cascade' }),
    modelId: integer('model_id')
      .notNull()
      .references(() => priorModels.id),
    /** float32 [l, n] matrix then n bias values, little-endian. */
    mapBlobKey: text('map_blob_key').notNull(),
    isReference: boolean('is_reference').notNull(),
    heldOutR2: doublePrecision('held_out_r2'),
    residual: doublePrecision('residual'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.roundId, t.modelId] })],
);

/** A completed round's merged dataset, written once into the blob store and served with byte ranges. */
export const roundExports = pgTable(
  'round_exports',
  {
    roundId: integer('round_id')
      .notNull()
      .references(() => rounds.id, { onDelete: 'cascade' }),
    format: text('format').notNull(),
    blobKey: text('blob_key').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.roundId, t.format] })],
);

export const trainingRuns = pgTable('training_runs', {
  id: serial('id').primaryKey(),
  roundId: integer('round_id').references(() => rounds.id, { onDelete: 'cascade' }),
  status: text('status').notNull().default('queued'),
  config: jsonb('config').notNull().default(sql`'{}'::jsonb`),
  metrics: jsonb('metrics'),
  createdAt: createdAt(),
});
