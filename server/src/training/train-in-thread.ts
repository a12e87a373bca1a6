import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ThreadJob, ThreadMessage } from './training-thread.ts';

type Done = Extract<ThreadMessage, { type: 'done' }>;

// The thread's module is TypeScript, like the rest of the server: the thread registers tsx's loader
// (resolved from here, since a data: URL resolves no package names) and then imports it.
const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
const entry = new URL('./training-thread.ts', import.meta.url).href;
const THREAD_BOOT = new URL(
  `data:text/javascript,${encodeURIComponent(`import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(entry)});`)}`,
);

/**
 * Runs one student's training job (`training-thread.ts`) in a worker thread with its own TF.js,
 * passing progress back as it comes. The images and targets are copied to the thread once.
 */
export function trainInThread(
  job: ThreadJob,
  onProgress: (m: Exclude<ThreadMessage, Done | { type: 'error' }>) => void | Promise<void>,
): Promise<Omit<Done, 'type'>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(THREAD_BOOT);
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    // Progress is written in order, one message at a time.
    let chain = Promise.resolve();
    worker.on('message', (m: ThreadMessage) => {
      chain = chain.then(async () => {
        if (m.type === 'done') finish(() => resolve({ probe: m.probe, files: m.files }));
        else if (m.type === 'error') finish(() => reject(new Error(m.message)));
        else await onProgress(m);
      });
      chain.catch((err: unknown) => finish(() => reject(err)));
    });
    worker.on('error', (err) => finish(() => reject(err)));
    // After the messages it sent: a thread that ends without 'done' failed.
    worker.on('exit', (code) => {
      chain = chain.then(() => finish(() => reject(new Error(`the training thread stopped (exit code ${code})`))));
    });
    worker.postMessage(job);
  });
}
