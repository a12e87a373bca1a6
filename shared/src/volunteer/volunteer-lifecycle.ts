/**
 * The compute worker's lifecycle, shared by the worker and the page that shows it:
 * check (backend and device) -> load (model and shard, with progress) -> warm-up -> ready -> run,
 * with pause and interrupt possible from any working state. The page renders exactly these states.
 */
export type Backend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export type PauseReason = 'user' | 'hidden' | 'battery';

export type VolunteerState =
  | { kind: 'check' }
  | { kind: 'load'; what: string; loadedBytes: number; totalBytes: number }
  | { kind: 'warmup'; prior: string }
  | { kind: 'ready'; backend: Backend }
  /** No work is open right now; the worker asks again later. */
  | { kind: 'waiting'; retryInMs: number }
  | { kind: 'run'; phase: 'score' | 'align' | 'target'; prior: string }
  | { kind: 'paused'; reason: PauseReason }
  /** Something failed (network, lost device); the worker retries after a back-off. */
  | { kind: 'interrupted'; error: string; retryInMs: number };

export type StateKind = VolunteerState['kind'];

/** Which state may follow which. Pause and interrupt are allowed from every working state. */
const NEXT: Record<StateKind, readonly StateKind[]> = {
  check: ['load', 'ready', 'interrupted', 'paused'],
  load: ['load', 'warmup', 'run', 'interrupted', 'paused'],
  warmup: ['run', 'interrupted', 'paused'],
  ready: ['load', 'run', 'waiting', 'interrupted', 'paused'],
  waiting: ['ready', 'load', 'interrupted', 'paused'],
  run: ['run', 'ready', 'load', 'interrupted', 'paused'],
  // Resuming returns to the state the pause interrupted.
  paused: ['check', 'ready', 'paused', 'load', 'warmup', 'waiting', 'run', 'interrupted'],
  interrupted: ['check', 'ready', 'paused', 'interrupted'],
};

export class LifecycleError extends Error {}

/** The next state, or a LifecycleError naming the illegal step. */
export function transition(from: VolunteerState, to: VolunteerState): VolunteerState {
  if (!NEXT[from.kind].includes(to.kind))
    throw new LifecycleError(`a worker in "${from.kind}" cannot go to "${to.kind}"`);
  return to;
}

/** What the shard and campaign progress bars, the speed, the ETA and the credit show. */
export interface VolunteerProgress {
  leaseId: number | null;
  campaignId: number | null;
  /** Rows of the current work item done (resumed ones included) and in all. */
  shardDone: number;
  shardTotal: number;
  /** Rows that came from this device's journal after a reload rather than being recomputed. */
  resumedRows: number;
  imagesPerSecond: number;
  etaSeconds: number | null;
  /** The server's running total for this volunteer. */
  credit: number;
  itemsCompleted: number;
  backend: Backend | null;
}

/** Messages from the page to the worker. */
export type ToWorker =
  | {
      type: 'start';
      token: string;
      backends: Backend[];
      dutyCycle: number;
      priorIds?: number[];
      campaignId?: number;
    }
  | { type: 'pause'; reason: PauseReason }
  | { type: 'resume' }
  | { type: 'duty-cycle'; value: number };

/** Messages from the worker to the page. */
export type FromWorker =
  | { type: 'state'; state: VolunteerState }
  | { type: 'progress'; progress: VolunteerProgress }
  | { type: 'log'; message: string };

/**
 * Sleep that keeps a duty cycle: after `busyMs` of compute at duty d (0 < d <= 1), rest
 * busyMs * (1 - d) / d, so the device computes a fraction d of the time.
 */
export function restAfter(busyMs: number, dutyCycle: number): number {
  const d = Math.min(1, Math.max(0.05, dutyCycle));
  return (busyMs * (1 - d)) / d;
}

/** Exponential back-off with a ceiling: 1 s, 2 s, 4 s, ... 60 s. */
export function backoffMs(attempt: number, baseMs = 1000, maxMs = 60_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
}
