import { Hono } from 'hono';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import type { Env } from '../env.ts';

/** Everything a request handler may reach; built once at start-up. */
export interface AppDeps {
  env: Env;
  database: Database;
  blobs: BlobStore;
  adminToken: string;
  version: string;
}

/** `volunteer` is set by requireVolunteer on volunteer routes. */
export type AppEnv = { Variables: { deps: AppDeps; volunteer: { id: string } } };

export const createRouter = () => new Hono<AppEnv>();
