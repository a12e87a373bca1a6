import { Readable } from 'node:stream';
import { and, asc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { campaignStats } from '../../campaigns/campaign-stats.ts';
import { listCampaigns } from '../../campaigns/create-campaign.ts';
import { alignments, roundExports, rounds, trainingRuns } from '../../db/schema.ts';
import { createRouter } from '../../http/app-env.ts';
import { AppError } from '../../http/app-error.ts';
import { parseByteRange } from '../../http/byte-range.ts';
import { validate } from '../../http/validate.ts';
import { buildRoundReport, REPORT_PLOTS } from '../../reports/round-report.ts';

const idParam = z.object({ id: z.coerce.number().int().positive() });
const exportParam = z.object({
  id: z.coerce.number().int().positive(),
  round: z.coerce.number().int().positive(),
  file: z.enum(['targets.npz', 'targets.safetensors', 'manifest.json']),
});
const alignmentParam = z.object({
  id: z.coerce.number().int().positive(),
  round: z.coerce.number().int().positive(),
  prior: z.coerce.number().int().positive(),
});
const roundParam = z.object({
  id: z.coerce.number().int().positive(),
  round: z.coerce.number().int().positive(),
});
const plotParam = roundParam.extend({ plot: z.enum(REPORT_PLOTS) });
const studentParam = z.object({
  id: z.coerce.number().int().positive(),
  run: z.coerce.number().int().positive(),
  file: z.enum(['model.json', 'weights.bin']),
});
const FORMAT = { 'targets.npz': 'npz', 'targets.safetensors': 'safetensors', 'manifest.json': 'manifest' } as const;
const CONTENT_TYPE = {
  npz: 'application/zip',
  safetensors: 'application/octet-stream',
  manifest: 'application/json',
} as const;

export const campaignsRoute = createRouter()
  .get('/', async (c) => c.json({ campaigns: await listCampaigns(c.var.deps.database) }))
  .get('/:id', validate('param', idParam), async (c) => {
    const [campaign] = await listCampaigns(c.var.deps.database, c.req.valid('param').id);
    if (!campaign) throw AppError.notFound(`no campaign with id ${c.req.valid('param').id}`);
    return c.json(campaign);
  })
  .get('/:id/stats', validate('param', idParam), async (c) => {
    const stats = await campaignStats(c.var.deps.database, c.req.valid('param').id);
    if (!stats) throw AppError.notFound(`no campaign with id ${c.req.valid('param').id}`);
    return c.json(stats);
  })
  .get('/:id/rounds', validate('param', idParam), async (c) => {
    const { db } = c.var.deps.database;
    const list = await db
      .select({
        id: rounds.id,
        number: rounds.number,
        status: rounds.status,
        bestModelId: rounds.bestModelId,
        inconsistencyBefore: rounds.inconsistencyBefore,
        inconsistencyAfter: rounds.inconsistencyAfter,
      })
      .from(rounds)
      .where(eq(rounds.campaignId, c.req.valid('param').id))
      .orderBy(asc(rounds.number));
    const runs =
      list.length > 0
        ? await db
            .select({
              id: trainingRuns.id,
              roundId: trainingRuns.roundId,
              status: trainingRuns.status,
              config: trainingRuns.config,
              metrics: trainingRuns.metrics,
            })
            .from(trainingRuns)
            .where(
              inArray(
                trainingRuns.roundId,
                list.map((r) => r.id),
              ),
            )
            .orderBy(asc(trainingRuns.id))
        : [];
    return c.json({
      rounds: list.map(({ id: roundId, ...r }) => ({
        ...r,
        trainingRuns: runs
          .filter((t) => t.roundId === roundId)
          .map((t) => {
            const metrics = (t.metrics ?? null) as Record<string, unknown> | null;
            const base = `/api/campaigns/${c.req.valid('param').id}/training-runs/${t.id}`;
            return {
              id: t.id,
              status: t.status,
              config: t.config as Record<string, unknown>,
              metrics,
              downloads: metrics?.model ? [`${base}/model.json`, `${base}/weights.bin`] : [],
            };
          }),
        report:
          r.status === 'complete'
            ? {
                markdown: `/api/campaigns/${c.req.valid('param').id}/rounds/${r.number}/report.md`,
                plots: REPORT_PLOTS.map(
                  (p) => `/api/campaigns/${c.req.valid('param').id}/rounds/${r.number}/report/${p}`,
                ),
              }
            : null,
        downloads:
          r.status === 'complete'
            ? Object.keys(FORMAT).map((f) => `/api/campaigns/${c.req.valid('param').id}/rounds/${r.number}/${f}`)
            : [],
      })),
    });
  })
  .get('/:id/rounds/:round/alignments/:prior', validate('param', alignmentParam), async (c) => {
    const { id, round, prior } = c.req.valid('param');
    const [row] = await c.var.deps.database.db
      .select({ blobKey: alignments.mapBlobKey })
      .from(alignments)
      .innerJoin(rounds, eq(rounds.id, alignments.roundId))
      .where(and(eq(rounds.campaignId, id), eq(rounds.number, round), eq(alignments.modelId, prior)))
      .limit(1);
    if (!row) throw AppError.notFound(`round ${round} of campaign ${id} has no alignment for prior ${prior}`);
    const bytes = await c.var.deps.blobs.get(row.blobKey);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="campaign-${id}-round-${round}-prior-${prior}-map.f32"`,
    });
  })
  .get('/:id/rounds/:round/report.md', validate('param', roundParam), async (c) => {
    const { id, round } = c.req.valid('param');
    const report = await buildRoundReport(c.var.deps.database, id, round);
    return c.body(report.markdown, 200, {
      'content-type': 'text/markdown; charset=utf-8',
      'content-disposition': `inline; filename="campaign-${id}-round-${round}-report.md"`,
    });
  })
  .get('/:id/rounds/:round/report.json', validate('param', roundParam), async (c) => {
    const { id, round } = c.req.valid('param');
    return c.json((await buildRoundReport(c.var.deps.database, id, round)).summary);
  })
  .get('/:id/rounds/:round/report/:plot', validate('param', plotParam), async (c) => {
    const { id, round, plot } = c.req.valid('param');
    const report = await buildRoundReport(c.var.deps.database, id, round);
    return c.body(report.plots[plot], 200, { 'content-type': 'image/svg+xml', 'cache-control': 'no-cache' });
  })
  .get('/:id/training-runs/:run/:file', validate('param', studentParam), async (c) => {
    const { id, run, file } = c.req.valid('param');
    const [row] = await c.var.deps.database.db
      .select({ metrics: trainingRuns.metrics })
      .from(trainingRuns)
      .innerJoin(rounds, eq(rounds.id, trainingRuns.roundId))
      .where(and(eq(rounds.campaignId, id), eq(trainingRuns.id, run)));
    const model = (row?.metrics as { model?: { modelJson: string; weights: string } } | null)?.model;
    if (!model) throw AppError.notFound(`campaign ${id} has no trained student from run ${run}`);
    const bytes = await c.var.deps.blobs.get(file === 'model.json' ? model.modelJson : model.weights);
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': file === 'model.json' ? 'application/json' : 'application/octet-stream',
      'content-disposition': `attachment; filename="${file}"`,
    });
  })
  .get('/:id/rounds/:round/:file', validate('param', exportParam), async (c) => {
    const { id, round, file } = c.req.valid('param');
    const [row] = await c.var.deps.database.db
      .select({ blobKey: roundExports.blobKey, size: roundExports.size })
      .from(roundExports)
      .innerJoin(rounds, eq(rounds.id, roundExports.roundId))
      .where(and(eq(rounds.campaignId, id), eq(rounds.number, round), eq(roundExports.format, FORMAT[file])))
      .limit(1);
    if (!row) throw AppError.notFound(`campaign ${id} has no completed round ${round}`);
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPE[FORMAT[file]],
      'accept-ranges': 'bytes',
      etag: `"${row.blobKey}"`,
      'content-disposition': `attachment; filename="campaign-${id}-round-${round}-${file}"`,
    };
    const range = parseByteRange(c.req.header('range'), row.size);
    if (range === 'unsatisfiable') {
      return c.body(null, 416, { 'content-range': `bytes */${row.size}` });
    }
    const stream = await c.var.deps.blobs.stream(row.blobKey, range ?? undefined);
    const body = Readable.toWeb(stream) as ReadableStream;
    if (!range) return c.body(body, 200, { ...headers, 'content-length': String(row.size) });
    return c.body(body, 206, {
      ...headers,
      'content-length': String(range.end - range.start + 1),
      'content-range': `bytes ${range.start}-${range.end}/${row.size}`,
    });
  });
