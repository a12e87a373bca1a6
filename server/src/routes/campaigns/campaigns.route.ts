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
          .map((t) => ({ id: t.id, status: t.status, metrics: (t.metrics ?? null) as Record<string, unknown> | null })),
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
