import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { claimRequestSchema, ErrorCode } from '@coopt/shared';
import { encodedTargetBytes } from '@coopt/shared/math';
import { and, eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { z } from 'zod';
import { advanceRound } from '../../campaigns/round-advancer.ts';
import { readSamplesByIds } from '../../datasets/dataset-samples.ts';
import { alignments, priorScores } from '../../db/schema.ts';
import { completeRound } from '../../export/round-export.ts';
import { type AppEnv, createRouter } from '../../http/app-env.ts';
import { AppError } from '../../http/app-error.ts';
import { readHashedBody } from '../../http/hashed-body.ts';
import { validate } from '../../http/validate.ts';
import { requireVolunteer } from '../../http/volunteer-auth.ts';
import { claimWork, heartbeat } from '../../work/lease-scheduler.ts';
import { settleWorkItem } from '../../work/replica-quorum.ts';
import { acceptResult } from '../../work/result-upload.ts';
import { TargetUploadReader } from '../../work/target-upload-reader.ts';
import { grantContext, type LeaseContext, leaseContext, toAssignment } from '../../work/work-assignment.ts';

const leaseParam = z.object({ id: z.coerce.number().int().positive() });

/** The lease, if it exists and is this volunteer's: 404 for no such lease, 403 for someone else's. */
async function ownLease(
  c: { var: { deps: { database: Parameters<typeof leaseContext>[0] }; volunteer: { id: string } } },
  id: number,
): Promise<LeaseContext> {
  const ctx = await leaseContext(c.var.deps.database, id);
  if (!ctx) throw AppError.notFound(`no lease with id ${id}`);
  if (ctx.lease.volunteerId !== c.var.volunteer.id)
    throw new AppError(403, ErrorCode.Forbidden, 'this lease belongs to another volunteer');
  return ctx;
}

/** A blob as the response body; its key is its SHA-256, which the volunteer's cache checks. */
async function blobBody(c: Context<AppEnv>, key: string) {
  const bytes = await c.var.deps.blobs.get(key);
  return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
    'content-type': 'application/octet-stream',
    'x-coopt-sha256': key,
  });
}

export const workRoute = createRouter()
  .use(requireVolunteer)
  .post('/claim', validate('json', claimRequestSchema), async (c) => {
    const seconds = c.var.deps.env.COOPT_LEASE_SECONDS;
    const grant = await claimWork(c.var.deps.database, c.var.volunteer.id, c.req.valid('json'), seconds);
    if (!grant) return c.body(null, 204);
    const ctx = await grantContext(c.var.deps.database, grant);
    return c.json(toAssignment(ctx, Math.max(1, Math.floor(seconds / 3))), 200);
  })
  .post('/leases/:id/heartbeat', validate('param', leaseParam), async (c) => {
    const ctx = await ownLease(c, c.req.valid('param').id);
    const until = await heartbeat(c.var.deps.database, ctx.lease.id, c.var.deps.env.COOPT_LEASE_SECONDS);
    if (!until)
      throw new AppError(
        409,
        ErrorCode.LeaseExpired,
        'this lease has expired and its work went back to the pool; claim new work',
      );
    return c.json({ expiresAt: until.toISOString() });
  })
  .get('/leases/:id/sample-ids', validate('param', leaseParam), async (c) => {
    const ctx = await ownLease(c, c.req.valid('param').id);
    return blobBody(c, ctx.shard.sampleIdsBlobKey);
  })
  .get('/leases/:id/samples', validate('param', leaseParam), async (c) => {
    const ctx = await ownLease(c, c.req.valid('param').id);
    const ids = new Int32Array(Uint8Array.from(await c.var.deps.blobs.get(ctx.shard.sampleIdsBlobKey)).buffer);
    const pixels = await readSamplesByIds(c.var.deps, ctx.dataset, ids);
    return c.body(pixels as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/octet-stream',
      'x-coopt-shape': [ids.length, ctx.dataset.height, ctx.dataset.width, ctx.dataset.channels].join(','),
      'x-coopt-sha256': createHash('sha256').update(pixels).digest('hex'),
    });
  })
  .get('/leases/:id/alignment', validate('param', leaseParam), async (c) => {
    const ctx = await ownLease(c, c.req.valid('param').id);
    const [row] = await c.var.deps.database.db
      .select()
      .from(alignments)
      .where(and(eq(alignments.roundId, ctx.round.id), eq(alignments.modelId, ctx.prior.id)))
      .limit(1);
    if (!row || ctx.item.phase !== 'target') throw AppError.notFound('this work item has no alignment');
    return blobBody(c, row.mapBlobKey);
  })
  .get('/leases/:id/features', validate('param', leaseParam), async (c) => {
    const ctx = await ownLease(c, c.req.valid('param').id);
    const [row] = await c.var.deps.database.db
      .select()
      .from(priorScores)
      .where(and(eq(priorScores.roundId, ctx.round.id), eq(priorScores.modelId, ctx.prior.id)))
      .limit(1);
    if (!row || ctx.item.phase !== 'align') throw AppError.notFound('this work item has no features to align');
    return blobBody(c, row.featuresBlobKey);
  })
  .get('/leases/:id/reference', validate('param', leaseParam), async (c) => {
    const ctx = await ownLease(c, c.req.valid('param').id);
    if (!ctx.round.referenceBlobKey || ctx.item.phase !== 'align')
      throw AppError.notFound('this work item has no reference targets');
    return blobBody(c, ctx.round.referenceBlobKey);
  })
  .put('/leases/:id/result', validate('param', leaseParam), async (c) => {
    const declared = Number(c.req.header('content-length') ?? Number.NaN);
    const uploadLimit = c.var.deps.env.COOPT_MAX_UPLOAD_BYTES;
    if (Number.isFinite(declared) && declared > uploadLimit) throw AppError.payloadTooLarge(uploadLimit);
    // Under the Node server, c.env holds the request's own stream; app.request (tests) has none.
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    // The lease is looked up while the body arrives, is read and written to a staged blob; a
    // refusal drops the body and the staged bytes. Only score and align uploads are hashed (they
    // are served to volunteers again under their SHA-256); a target upload, most of all the bytes
    // volunteers send, is stored under a random key, which spares the hash's CPU.
    const writer = c.var.deps.blobs.openWriter();
    const upload = new TargetUploadReader();
    try {
      const lookup = ownLease(c, c.req.valid('param').id);
      lookup.catch(() => undefined);
      // Until the lease is known, the server's upload limit; then this lease's own size.
      let allowed = uploadLimit;
      const reading = readHashedBody(
        c.req.raw,
        incoming,
        () => allowed,
        (chunk) => {
          writer.write(chunk);
          upload.feed(chunk);
        },
        lookup.then((ctx) => ctx.item.phase !== 'target'),
      );
      reading.catch(() => undefined);
      const ctx = await lookup;
      const limit = Math.max(encodedTargetBytes(ctx.rowCount, ctx.rowDim, 'float32'), 64);
      if (Number.isFinite(declared) && declared > limit) throw AppError.payloadTooLarge(limit);
      allowed = Math.min(uploadLimit, limit);
      // Only now is the declared length known to fit this lease: a body kept whole is copied into place.
      if (Number.isFinite(declared)) upload.expect(declared);
      const body = await reading;
      if (body.size > limit) throw AppError.payloadTooLarge(limit);
      const { settled, ...outcome } = await acceptResult(c.var.deps, ctx, c.var.volunteer.id, body, writer, upload);
      if (!outcome.duplicate && (settled || (await settleWorkItem(c.var.deps, ctx.item.id)) === 'done')) {
        // The last settled score item publishes the reference and opens the align items; the last
        // map opens the target items; the last settled shard completes the round and writes the export.
        if (ctx.item.phase === 'target') await completeRound(c.var.deps, ctx.round.id);
        else await advanceRound(c.var.deps, ctx.round.id);
      }
      return c.json(outcome, outcome.duplicate ? 200 : 201);
    } finally {
      await writer.dispose();
    }
  });
