import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { WorkAssignment } from '@coopt/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zooDir } from '../priors/prior-zoo.ts';
import { createScratchPostgres, databaseKinds } from '../test/test-database.ts';

const serverDir = path.resolve(import.meta.dirname, '../..');
const tsx = path.join(serverDir, 'node_modules/.bin/tsx');
const ADMIN = 'multi-process-admin-token-0123';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Claims need several API processes on one database: only a Postgres server can be shared. */
describe.each(databaseKinds().filter((k) => k === 'postgres'))('claims across API processes on one %s server', () => {
  const servers: { url: string; child: ChildProcess }[] = [];
  let drop: () => Promise<void>;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coopt-multi-'));

  beforeAll(async () => {
    const scratch = await createScratchPostgres();
    drop = scratch.drop;
    // Three processes start at once: their migrations must not collide either.
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const child = spawn(tsx, ['src/main.ts'], {
        cwd: serverDir,
        env: {
          ...process.env,
          PORT: String(port),
          DATABASE_URL: scratch.url,
          COOPT_DEMO: '0',
          COOPT_ADMIN_TOKEN: ADMIN,
          COOPT_DATA_DIR: dataDir,
          COOPT_WEB_DIST: dataDir,
        },
        stdio: 'ignore',
      });
      servers.push({ url: `http://127.0.0.1:${port}`, child });
    }
    for (const s of servers) {
      for (let tries = 0; ; tries++) {
        const ok = await fetch(`${s.url}/api/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (tries > 200) throw new Error('server did not start');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) s.child.kill('SIGTERM');
    await Promise.all(
      servers.map((s) => new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once('exit', r)))),
    );
    await drop?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('never leases a work item more often than its replicas, nor twice to one volunteer', async () => {
    const [first] = servers;
    if (!first) throw new Error('no server');
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const ds = await fetch(`${first.url}/api/admin/datasets`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ format: 'source', source: 'fashion-mnist-test' }),
    });
    const datasetId = ((await ds.json()) as { id: number }).id;
    const priorIds: number[] = [];
    for (const name of ['channel-shuffle', 'squeeze-fire-concat', 'standalone-batchnorm']) {
      const up = await fetch(`${first.url}/api/admin/blobs`, {
        method: 'POST',
        headers: { authorization: admin.authorization },
        body: fs.readFileSync(path.join(zooDir, 'op-tests', `${name}.onnx`)),
      });
      const blob = ((await up.json()) as { key: string }).key;
      const p = await fetch(`${first.url}/api/admin/priors`, {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ name, onnx: { blob } }),
      });
      expect(p.status).toBe(201);
      priorIds.push(((await p.json()) as { id: number }).id);
    }
    const replicas = 5;
    const c = await fetch(`${first.url}/api/admin/campaigns`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        name: 'race',
        datasetId,
        priorIds,
        shardSize: 1000,
        sharedSetSize: 64,
        targetDim: 16,
        seed: 3,
        verification: { kind: 'replication', replicas, tolerance: 1e-3 },
      }),
    });
    expect(c.status).toBe(201);

    // 30 volunteers, each on a random API process, all claiming at once until there is nothing left.
    const grants: { volunteer: string; phase: string; prior: number; leaseId: number }[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, v) => {
        const server = servers[v % servers.length] as { url: string };
        const reg = await fetch(`${server.url}/api/volunteers`, { method: 'POST' });
        const { token, volunteerId } = (await reg.json()) as { token: string; volunteerId: string };
        // 204 means "nothing free right now" (other processes may hold the rest locked), so a
        // volunteer stops only after several empty answers in a row, as the tab's backoff does.
        for (let empty = 0; empty < 5; ) {
          const res = await fetch(
            `${(servers[Math.floor(Math.random() * servers.length)] as { url: string }).url}/api/work/claim`,
            {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ backends: ['wasm'] }),
            },
          );
          if (res.status === 204) {
            empty++;
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          empty = 0;
          expect(res.status).toBe(200);
          const a = (await res.json()) as WorkAssignment;
          grants.push({ volunteer: volunteerId, phase: a.phase, prior: a.prior.id, leaseId: a.leaseId });
        }
      }),
    );
    expect(grants).toHaveLength(priorIds.length * replicas);
    for (const prior of priorIds) {
      const forPrior = grants.filter((g) => g.prior === prior);
      expect(forPrior).toHaveLength(replicas);
      expect(new Set(forPrior.map((g) => g.volunteer)).size).toBe(replicas);
    }
    expect(new Set(grants.map((g) => g.leaseId)).size).toBe(grants.length);
  });
});
