import { describe, expect, it } from 'vitest';
import { backoffMs, LifecycleError, restAfter, transition, type VolunteerState } from './volunteer-lifecycle.ts';

describe('the volunteer worker lifecycle', () => {
  it('runs check -> load -> warm-up -> run -> ready, and may pause or be interrupted on the way', () => {
    let s: VolunteerState = { kind: 'check' };
    s = transition(s, { kind: 'ready', backend: 'webgpu' });
    s = transition(s, { kind: 'load', what: 'model', loadedBytes: 0, totalBytes: 10 });
    s = transition(s, { kind: 'warmup', prior: 'p' });
    s = transition(s, { kind: 'run', phase: 'target', prior: 'p' });
    s = transition(s, { kind: 'paused', reason: 'hidden' });
    s = transition(s, { kind: 'run', phase: 'target', prior: 'p' });
    s = transition(s, { kind: 'interrupted', error: 'offline', retryInMs: 1000 });
    s = transition(s, { kind: 'ready', backend: 'webgpu' });
    expect(s.kind).toBe('ready');
  });

  it('refuses steps that skip the model load or the warm-up', () => {
    expect(() => transition({ kind: 'check' }, { kind: 'warmup', prior: 'p' })).toThrow(LifecycleError);
    expect(() => transition({ kind: 'warmup', prior: 'p' }, { kind: 'ready', backend: 'wasm' })).toThrow(
      /cannot go to "ready"/,
    );
    expect(() => transition({ kind: 'waiting', retryInMs: 1 }, { kind: 'run', phase: 'score', prior: 'p' })).toThrow(
      LifecycleError,
    );
  });

  it('keeps the duty cycle: at 25% the worker rests three times as long as it computed', () => {
    expect(restAfter(100, 1)).toBe(0);
    expect(restAfter(100, 0.25)).toBeCloseTo(300);
    expect(restAfter(100, 0)).toBeCloseTo(1900); // floored at 5%
  });

  it('backs off exponentially up to a minute', () => {
    expect([0, 1, 2, 3].map((a) => backoffMs(a))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(20)).toBe(60_000);
  });
});
