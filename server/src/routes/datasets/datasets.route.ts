import { Readable } from 'node:stream';
import { z } from 'zod';
import { streamSamples } from '../../datasets/dataset-samples.ts';
import { getDataset, listDatasets, toSummary } from '../../datasets/dataset-views.ts';
import { createRouter } from '../../http/app-env.ts';
import { AppError } from '../../http/app-error.ts';
import { validate } from '../../http/validate.ts';

/** Most samples one request may read: bounds the response, not the dataset. */
export const MAX_SAMPLES_PER_REQUEST = 4096;

const idParam = z.object({ id: z.coerce.number().int().positive() });
const samplesQuery = z.object({
  start: z.coerce.number().int().min(0),
  count: z.coerce.number().int().min(1).max(MAX_SAMPLES_PER_REQUEST),
});

/** Public, read-only: what volunteers may see. Labels are never served here. */
export const datasetsRoute = createRouter()
  .get('/', async (c) => {
    const rows = await listDatasets(c.var.deps.database);
    return c.json({ datasets: rows.map(toSummary) });
  })
  .get('/:id', validate('param', idParam), async (c) => {
    const row = await getDataset(c.var.deps.database, c.req.valid('param').id);
    if (!row) throw AppError.notFound(`no dataset with id ${c.req.valid('param').id}`);
    return c.json(toSummary(row));
  })
  .get('/:id/samples', validate('param', idParam), validate('query', samplesQuery), async (c) => {
    const { id } = c.req.valid('param');
    const { start, count } = c.req.valid('query');
    const row = await getDataset(c.var.deps.database, id);
    if (!row) throw AppError.notFound(`no dataset with id ${id}`);
    if (start + count > row.count) {
      throw AppError.badRequest(`samples ${start}..${start + count - 1} run past the dataset's ${row.count} samples`);
    }
    const body = Readable.toWeb(Readable.from(streamSamples(c.var.deps, row, start, count))) as ReadableStream;
    return c.body(body, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(count * row.height * row.width * row.channels),
      'x-coopt-shape': [count, row.height, row.width, row.channels].join(','),
    });
  });
