/// <reference lib="webworker" />
import type { WorkAssignment } from '@coopt/shared';
import { type GraphModelJson, loadConvertedModel } from '@coopt/shared/converter';
import { decodeTargets, encodeTargets, solveAlignmentTask } from '@coopt/shared/math';
import {
  type Backend,
  backoffMs,
  type FromWorker,
  type PauseReason,
  restAfter,
  runPriorBatch,
  type ToWorker,
  transition,
  type VolunteerProgress,
  type VolunteerState,
} from '@coopt/shared/volunteer';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import { fetchCached, HttpError } from './artifact-cache.ts';
import { batchJournal } from './batch-journal.ts';
import { startBackend } from './tfjs-backends.ts';

/**
 * The volunteer's compute worker: claims work, downloads (cached, hash-checked) the prior and the
 * shard, runs it batch by batch on the GPU with TF.js, journals every finished batch, heartbeats
 * its lease and uploads the rows. All compute happens here, never on the page's thread.
 */
declare const self: DedicatedWorkerGlobalScope;

/** Images per batch: small enough for steady progress and quick pauses, large enough to keep a GPU busy. */
const BATCH = 32;

let state: VolunteerState = { kind: 'check' };
let pausedFor: PauseReason | null = null;
let dutyCycle = 1;
let token = '';
let priorIds: number[] | undefined;
let campaignId: number | undefined;
let wake: (() => void) | null = null;
const progress: VolunteerProgress = {
  leaseId: null,
  campaignId: null,
  shardDone: 0,
  shardTotal: 0,
  resumedRows: 0,
  imagesPerSecond: 0,
  etaSeconds: null,
  credit: 0,
  itemsCompleted: 0,
  backend: null,
};
let loaded: { priorId: number; model: GraphModel } | null = null;

const post = (m: FromWorker) => self.postMessage(m);
const setState = (next: VolunteerState) => {
  state = transition(state, next);
  post({ type: 'state', state });
};
const report = () => post({ type: 'progress', progress: { ...progress } });
const sleep = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    wake = () => {
      clearTimeout(t);
      r();
    };
  });
const auth = () => ({ authorization: `Bearer ${token}` });

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'start') {
    token = m.token;
    dutyCycle = m.dutyCycle;
    priorIds = m.priorIds;
    campaignId = m.campaignId;
    void main(m.backends);
  } else if (m.type === 'pause') {
    pausedFor = m.reason;
  } else if (m.type === 'resume') {
    pausedFor = null;
    wake?.();
  } else if (m.type === 'duty-cycle') {
    dutyCycle = m.value;
  }
};

/** Waits while paused; the state goes back to what it was when resumed. */
async function holdIfPaused(): Promise<void> {
  if (!pausedFor) return;
  const before = state;
  setState({ kind: 'paused', reason: pausedFor });
  while (pausedFor) {
    if (state.kind === 'paused' && state.reason !== pausedFor) setState({ kind: 'paused', reason: pausedFor });
    await sleep(500);
  }
  setState(before);
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: { ...auth(), ...(init.headers ?? {}) } });
  if (res.status >= 500) throw new HttpError(res.status, `${path} answered ${res.status}`);
  return res;
}

async function main(backends: Backend[]): Promise<void> {
  const backend = await startBackend(backends);
  progress.backend = backend;
  setState({ kind: 'ready', backend });
  await refreshCredit();
  let failures = 0;
  for (;;) {
    try {
      await holdIfPaused();
      const a = (await resumable()) ?? (await claim());
      if (!a) {
        const wait = Math.min(15_000, backoffMs(failures++, 2000));
        setState({ kind: 'waiting', retryInMs: wait });
        await sleep(wait);
        setState({ kind: 'ready', backend });
        continue;
      }
      await work(a);
      failures = 0;
    } catch (err) {
      const wait = backoffMs(failures++);
      setState({ kind: 'interrupted', error: err instanceof Error ? err.message : String(err), retryInMs: wait });
      await sleep(wait);
      setState({ kind: 'ready', backend });
    }
  }
}

/** The lease this device held before a reload, if it is still live (a heartbeat proves it). */
async function resumable(): Promise<WorkAssignment | null> {
  const entry = await batchJournal.current().catch(() => undefined);
  if (!entry) return null;
  if (entry.token === token) {
    const res = await api(`/api/work/leases/${entry.assignment.leaseId}/heartbeat`, { method: 'POST' });
    if (res.ok) return entry.assignment;
  }
  await batchJournal.end(entry.assignment.leaseId);
  return null;
}

async function claim(): Promise<WorkAssignment | null> {
  const res = await api('/api/work/claim', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ backends: [progress.backend], priorIds, campaignId }),
  });
  if (res.status === 204) return null;
  if (!res.ok) throw new HttpError(res.status, `claim refused: ${res.status} ${await res.text()}`);
  const a = (await res.json()) as WorkAssignment;
  await batchJournal.begin({ token, assignment: a });
  return a;
}

async function refreshCredit(): Promise<void> {
  const res = await api('/api/volunteers/me').catch(() => null);
  if (res?.ok) progress.credit = ((await res.json()) as { credit: number }).credit;
  report();
}

async function modelFor(a: WorkAssignment): Promise<GraphModel> {
  if (loaded?.priorId === a.prior.id) return loaded.model;
  loaded?.model.dispose();
  loaded = null;
  const onProgress = (what: string, offset: number) => (done: number, total: number) =>
    setState({
      kind: 'load',
      what,
      loadedBytes: offset + done,
      totalBytes: Math.max(a.prior.modelBytes, offset + total),
    });
  const json = await fetchCached(a.prior.modelUrl, {
    sha256: a.prior.modelSha256,
    onProgress: onProgress(`${a.prior.name} model`, 0),
  });
  const weights = await fetchCached(a.prior.weightsUrl, {
    sha256: a.prior.weightsSha256,
    onProgress: onProgress(`${a.prior.name} weights`, json.length),
  });
  const model = await loadConvertedModel({
    modelJson: JSON.parse(new TextDecoder().decode(json)) as GraphModelJson,
    weightData: weights,
  });
  // Warm-up: the first run compiles the backend's kernels; doing it on one blank image keeps the
  // speed figure honest for the real batches.
  setState({ kind: 'warmup', prior: a.prior.name });
  const d = a.dataset;
  await runPriorBatch(model, a.prior, new Uint8Array(d.height * d.width * d.channels), [
    1,
    d.height,
    d.width,
    d.channels,
  ]);
  loaded = { priorId: a.prior.id, model };
  return model;
}

async function work(a: WorkAssignment): Promise<void> {
  progress.leaseId = a.leaseId;
  progress.campaignId = a.campaignId;
  progress.shardDone = 0;
  progress.shardTotal = a.sampleCount;
  progress.resumedRows = 0;
  progress.etaSeconds = null;
  report();
  const heartbeat = setInterval(() => {
    void api(`/api/work/leases/${a.leaseId}/heartbeat`, { method: 'POST' }).catch(() => undefined);
  }, a.heartbeatSeconds * 1000);
  try {
    const rows = a.align ? await align(a) : await infer(a);
    await holdIfPaused();
    const body = encodeTargets({ ids: rows.ids, dim: a.rowDim, values: rows.values });
    const res = await uploadWithRetry(a, body);
    if (res.status === 409)
      post({ type: 'log', message: `lease ${a.leaseId} ended before the upload: ${await res.text()}` });
    else if (!res.ok) throw new HttpError(res.status, `upload refused: ${res.status} ${await res.text()}`);
    else progress.itemsCompleted++;
  } finally {
    clearInterval(heartbeat);
    await batchJournal.end(a.leaseId).catch(() => undefined);
  }
  await refreshCredit();
}

async function uploadWithRetry(a: WorkAssignment, body: Uint8Array): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api(a.resultUrl, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: body as Uint8Array<ArrayBuffer>,
      });
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(backoffMs(attempt));
    }
  }
}

/** Score and target work: the prior over the shard's images, batch by batch, resuming from the journal. */
async function infer(a: WorkAssignment): Promise<{ ids: Uint32Array; values: Float32Array }> {
  const model = await modelFor(a);
  const ids = new Uint32Array(new Int32Array((await fetchCached(a.sampleIdsUrl, { headers: auth() })).buffer));
  const pixels = await fetchCached(a.samplesUrl, { headers: auth() });
  const alignment = a.alignmentUrl
    ? { map: new Float32Array((await fetchCached(a.alignmentUrl, { headers: auth() })).buffer), dim: a.rowDim }
    : undefined;
  const d = a.dataset;
  const image = d.height * d.width * d.channels;
  const values = new Float32Array(ids.length * a.rowDim);
  const finished = await batchJournal.finished(a.leaseId);
  setState({ kind: 'run', phase: a.phase, prior: a.prior.name });
  let computed = 0;
  let busyMs = 0;
  for (let start = 0, batch = 0; start < ids.length; start += BATCH, batch++) {
    const count = Math.min(BATCH, ids.length - start);
    const done = finished.get(batch);
    if (done?.length === count * a.rowDim) {
      values.set(done, start * a.rowDim);
      progress.resumedRows += count;
    } else {
      await holdIfPaused();
      const t0 = performance.now();
      const rows = await runPriorBatch(
        model,
        a.prior,
        pixels.subarray(start * image, (start + count) * image),
        [count, d.height, d.width, d.channels],
        alignment,
      );
      const ms = performance.now() - t0;
      values.set(rows, start * a.rowDim);
      await batchJournal.save(a.leaseId, batch, rows);
      computed += count;
      busyMs += ms;
      progress.imagesPerSecond = (computed / busyMs) * 1000 * Math.min(1, dutyCycle);
      const rest = restAfter(ms, dutyCycle);
      if (rest > 1) await sleep(rest);
    }
    progress.shardDone = start + count;
    progress.etaSeconds =
      progress.imagesPerSecond > 0 ? (ids.length - progress.shardDone) / progress.imagesPerSecond : null;
    report();
  }
  return { ids, values };
}

/** Align work: fit T_k from the prior's shared-set features to S_Y*, with the shared math. */
async function align(a: WorkAssignment): Promise<{ ids: Uint32Array; values: Float32Array }> {
  const task = a.align as NonNullable<WorkAssignment['align']>;
  setState({ kind: 'run', phase: 'align', prior: a.prior.name });
  const features = decodeTargets(await fetchCached(task.featuresUrl, { headers: auth() }));
  const reference = decodeTargets(await fetchCached(task.referenceUrl, { headers: auth() }));
  const values = await solveAlignmentTask(features, reference, task);
  progress.shardDone = a.sampleCount;
  report();
  return { ids: Uint32Array.from({ length: a.sampleCount }, (_, i) => i), values };
}
