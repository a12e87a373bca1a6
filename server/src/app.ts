import { Hono } from 'hono';
import type { AppDeps, AppEnv } from './http/app-env.ts';
import { AppError } from './http/app-error.ts';
import { handleError, handleNotFound } from './http/error-handler.ts';
import { jsonBodyLimit } from './http/json-body-limit.ts';
import { mountWebApp } from './http/web-app.ts';
import { adminCampaignsRoute } from './routes/admin-campaigns/admin-campaigns.route.ts';
import { adminDatasetsRoute } from './routes/admin-datasets/admin-datasets.route.ts';
import { adminPriorsRoute } from './routes/admin-priors/admin-priors.route.ts';
import { blobsRoute } from './routes/blobs/blobs.route.ts';
import { campaignsRoute } from './routes/campaigns/campaigns.route.ts';
import { datasetsRoute } from './routes/datasets/datasets.route.ts';
import { healthRoute } from './routes/health/health.route.ts';
import { priorsRoute } from './routes/priors/priors.route.ts';
import { volunteersRoute } from './routes/volunteers/volunteers.route.ts';
import { workRoute } from './routes/work/work.route.ts';

/** Routes that stream large bodies into the blob store and enforce their own, larger limit. */
const STREAMING_UPLOADS = new Set(['/api/admin/blobs']);
/** Target uploads are bounded per lease (rows x width) by their own route. */
const SIZED_UPLOADS = /^\/api\/work\/leases\/\d+\/result$/;

export function createApp(deps: AppDeps, options: { webDist?: string } = {}) {
  const app = new Hono<AppEnv>();
  app.onError(handleError);
  app.notFound(handleNotFound);

  app.use('/api/*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  const jsonLimit = jsonBodyLimit(deps.env.COOPT_MAX_BODY_BYTES, () => {
    throw AppError.payloadTooLarge(deps.env.COOPT_MAX_BODY_BYTES);
  });
  app.use('/api/*', (c, next) =>
    STREAMING_UPLOADS.has(c.req.path) || SIZED_UPLOADS.test(c.req.path) ? next() : jsonLimit(c, next),
  );

  const api = app
    .route('/api/health', healthRoute)
    .route('/api/datasets', datasetsRoute)
    .route('/api/admin/datasets', adminDatasetsRoute)
    .route('/api/admin/blobs', blobsRoute)
    .route('/api/priors', priorsRoute)
    .route('/api/admin/priors', adminPriorsRoute)
    .route('/api/campaigns', campaignsRoute)
    .route('/api/admin/campaigns', adminCampaignsRoute)
    .route('/api/volunteers', volunteersRoute)
    .route('/api/work', workRoute);

  if (options.webDist) mountWebApp(app, options.webDist);
  return api;
}

export type AppType = ReturnType<typeof createApp>;
