import { Readable } from 'node:stream';
import { z } from 'zod';
import { createRouter } from '../../http/app-env.ts';
import { AppError } from '../../http/app-error.ts';
import { validate } from '../../http/validate.ts';
import { getPrior, listPriors, toPriorSummary } from '../../priors/prior-views.ts';

const idParam = z.object({ id: z.coerce.number().int().positive() });

/** Browsers only ever download the converted TF.js graph model, never the ONNX file. */
export const priorsRoute = createRouter()
  .get('/', async (c) => c.json({ priors: (await listPriors(c.var.deps.database)).map(toPriorSummary) }))
  .get('/:id/model.json', validate('param', idParam), async (c) => {
    const row = await getPrior(c.var.deps.database, c.req.valid('param').id);
    if (!row?.graphModelBlobKey) throw AppError.notFound(`no prior with id ${c.req.valid('param').id}`);
    const body = await c.var.deps.blobs.get(row.graphModelBlobKey);
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=31536000, immutable',
    });
  })
  .get('/:id/weights.bin', validate('param', idParam), async (c) => {
    const row = await getPrior(c.var.deps.database, c.req.valid('param').id);
    if (!row?.weightsBlobKey) throw AppError.notFound(`no prior with id ${c.req.valid('param').id}`);
    const info = await c.var.deps.blobs.stat(row.weightsBlobKey);
    const stream = Readable.toWeb(await c.var.deps.blobs.stream(row.weightsBlobKey)) as ReadableStream;
    return c.body(stream, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(info?.size ?? 0),
      etag: `"${row.weightsBlobKey}"`,
      'cache-control': 'public, max-age=31536000, immutable',
    });
  });
