import { type ErrorBody, ErrorCode } from '@coopt/shared';
import { ConversionError } from '@coopt/shared/converter';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BlobNotFoundError, BlobRangeError, BlobTooLargeError } from '../blobs/blob-store.ts';
import { CampaignExistsError } from '../campaigns/create-campaign.ts';
import { DatasetFileError } from '../datasets/dataset-file-error.ts';
import { DatasetExistsError } from '../datasets/dataset-importer.ts';
import { PriorExistsError } from '../priors/register-prior.ts';
import { AppError } from './app-error.ts';

const codeForStatus: Partial<Record<number, ErrorCode>> = {
  400: ErrorCode.BadRequest,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
};

export function classify(err: unknown): { status: ContentfulStatusCode; code: ErrorCode; message: string } | null {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof DatasetFileError) return { status: 422, code: ErrorCode.BadDatasetFile, message: err.message };
  if (err instanceof DatasetExistsError || err instanceof PriorExistsError || err instanceof CampaignExistsError) {
    return { status: 409, code: ErrorCode.Conflict, message: err.message };
  }
  if (err instanceof ConversionError) {
    return err.code === 'too_large'
      ? { status: 413, code: ErrorCode.PayloadTooLarge, message: err.message }
      : { status: 422, code: ErrorCode.BadModel, message: err.message };
  }
  if (err instanceof BlobTooLargeError) return { status: 413, code: ErrorCode.PayloadTooLarge, message: err.message };
  if (err instanceof BlobNotFoundError) return { status: 404, code: ErrorCode.NotFound, message: err.message };
  if (err instanceof BlobRangeError)
    return { status: 416 as ContentfulStatusCode, code: ErrorCode.BadRequest, message: err.message };
  if (err instanceof HTTPException) {
    const code = codeForStatus[err.status] ?? ErrorCode.BadRequest;
    const message = err.status === 413 ? 'request body is too large' : err.message || 'bad request';
    return { status: err.status as ContentfulStatusCode, code, message };
  }
  return null;
}

/** The app's only error handler: known errors become 4xx with their message; anything else a bare 500. */
export function handleError(err: unknown, c: Context) {
  const known = classify(err);
  if (known) return c.json<ErrorBody>({ error: { code: known.code, message: known.message } }, known.status);
  console.error(`[coopt] ${c.req.method} ${c.req.path} failed:`, err);
  return c.json<ErrorBody>({ error: { code: ErrorCode.Internal, message: 'internal server error' } }, 500);
}

export function handleNotFound(c: Context) {
  return c.json<ErrorBody>(
    { error: { code: ErrorCode.NotFound, message: `no route for ${c.req.method} ${c.req.path}` } },
    404,
  );
}
