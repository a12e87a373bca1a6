import { ErrorCode } from '@coopt/shared';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** An error the client caused or should know about; becomes `{ error: { code, message } }`. */
export class AppError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  static badRequest(message: string) {
    return new AppError(400, ErrorCode.BadRequest, message);
  }
  static notFound(message: string) {
    return new AppError(404, ErrorCode.NotFound, message);
  }
  static payloadTooLarge(limit: number) {
    return new AppError(413, ErrorCode.PayloadTooLarge, `request body is larger than the limit of ${limit} bytes`);
  }
}
