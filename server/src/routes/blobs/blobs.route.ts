import { Readable } from 'node:stream';
import { requireAdmin } from '../../http/admin-auth.ts';
import { createRouter } from '../../http/app-env.ts';
import { AppError } from '../../http/app-error.ts';

/**
 * Admin uploads of large files (datasets, ONNX models): the raw body streams into the blob
 * store and is hashed on the way, never buffered. Later requests refer to it by key.
 */
export const blobsRoute = createRouter()
  .use(requireAdmin)
  .post('/', async (c) => {
    const limit = c.var.deps.env.COOPT_MAX_UPLOAD_BYTES;
    const declared = Number(c.req.header('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > limit) throw AppError.payloadTooLarge(limit);
    const body = c.req.raw.body;
    if (!body) throw AppError.badRequest('the request has no body; send the file as the raw request body');
    const info = await c.var.deps.blobs.put(Readable.fromWeb(body as import('node:stream/web').ReadableStream), {
      maxBytes: limit,
    });
    if (info.size === 0) throw AppError.badRequest('the uploaded file is empty');
    return c.json(info, 201);
  });
