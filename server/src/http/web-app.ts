import fs from 'node:fs';
import path from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Hono } from 'hono';
import type { AppEnv } from './app-env.ts';

/**
 * Serves the built web app on the API's port. Client-side routes (/admin, /research) fall back
 * to index.html; without a build, a page says how to make one.
 */
export function mountWebApp(app: Hono<AppEnv>, distDir: string): void {
  const indexFile = path.join(distDir, 'index.html');
  app.use('/*', async (c, next) => {
    if (c.req.path.startsWith('/api/')) return next();
    return serveStatic<AppEnv>({ root: distDir })(c, next);
  });
  app.get('*', async (c, next) => {
    if (c.req.path.startsWith('/api/') || path.extname(c.req.path) !== '') return next();
    if (!fs.existsSync(indexFile)) {
      return c.html(
        `<!doctype html><title>CoOpt</title><p>The web app is not built. Run <code>pnpm build</code>.</p>`,
        503,
      );
    }
    return c.html(fs.readFileSync(indexFile, 'utf8'));
  });
}
