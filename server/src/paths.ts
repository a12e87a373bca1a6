import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Fixed locations inside the repository checkout. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const migrationsDir = path.join(repoRoot, 'migrations');
export const defaultWebDist = path.join(repoRoot, 'web/dist');
export const demoDataDir = path.join(repoRoot, 'data');
