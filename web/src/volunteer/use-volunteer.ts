import type { Backend, FromWorker, ToWorker, VolunteerProgress, VolunteerState } from '@coopt/shared/volunteer';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, unwrap } from '../api-client.ts';

const CONSENT = 'coopt.consent';
const TOKEN = 'coopt.volunteer-token';
const DUTY = 'coopt.duty-cycle';

export interface VolunteerOptions {
  /** Backends to try, best first. */
  backends: Backend[];
  /** Only these priors (e.g. `?priors=2` in the address). */
  priorIds?: number[];
  /** Only this campaign (`?campaign=3`). */
  campaignId?: number;
}

/** The anonymous volunteer token, created on first contact and kept in this browser. */
async function volunteerToken(): Promise<string> {
  const kept = localStorage.getItem(TOKEN);
  if (kept) return kept;
  const { token } = await unwrap(await api.api.volunteers.$post());
  localStorage.setItem(TOKEN, token);
  return token;
}

/**
 * The page's side of the compute worker: consent (remembered), the worker itself, its state and
 * progress, the duty cycle, pause/resume, and automatic pauses when the tab is hidden or the
 * device runs on battery.
 */
export function useVolunteer(options: VolunteerOptions) {
  const [consented, setConsented] = useState(() => localStorage.getItem(CONSENT) === 'yes');
  const [state, setState] = useState<VolunteerState | null>(null);
  const [progress, setProgress] = useState<VolunteerProgress | null>(null);
  const [dutyCycle, setDuty] = useState(() => Number(localStorage.getItem(DUTY) ?? 1));
  const [userPaused, setUserPaused] = useState(false);
  const [autoPause, setAutoPause] = useState<'hidden' | 'battery' | null>(null);
  const worker = useRef<Worker | null>(null);

  useEffect(() => {
    if (!consented) return;
    let live = true;
    const w = new Worker(new URL('./compute-worker.ts', import.meta.url), { type: 'module' });
    worker.current = w;
    w.onmessage = (e: MessageEvent<FromWorker>) => {
      if (e.data.type === 'state') setState(e.data.state);
      else if (e.data.type === 'progress') setProgress(e.data.progress);
    };
    w.onerror = (e) => setState({ kind: 'interrupted', error: e.message || 'the worker stopped', retryInMs: 0 });
    void volunteerToken().then((token) => {
      if (!live) return;
      w.postMessage({
        type: 'start',
        token,
        backends: options.backends,
        dutyCycle: Number(localStorage.getItem(DUTY) ?? 1),
        priorIds: options.priorIds,
        campaignId: options.campaignId,
      } satisfies ToWorker);
    });
    return () => {
      live = false;
      w.terminate();
      worker.current = null;
    };
  }, [consented, options]);

  // Hidden tab or battery power: pause on its own, resume when the reason is gone.
  useEffect(() => {
    const onVisibility = () => setAutoPause((p) => (document.hidden ? 'hidden' : p === 'hidden' ? null : p));
    document.addEventListener('visibilitychange', onVisibility);
    type Battery = EventTarget & { charging: boolean };
    let battery: Battery | null = null;
    const onBattery = () =>
      setAutoPause((p) => (battery && !battery.charging ? 'battery' : p === 'battery' ? null : p));
    const nav = navigator as Navigator & { getBattery?: () => Promise<Battery> };
    void nav.getBattery?.().then((b) => {
      battery = b;
      b.addEventListener('chargingchange', onBattery);
      onBattery();
    });
    onVisibility();
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      battery?.removeEventListener('chargingchange', onBattery);
    };
  }, []);

  // Re-sent whenever the worker reports its first state, so a pause chosen before it started holds.
  const started = state !== null;
  useEffect(() => {
    if (!started) return;
    const reason = userPaused ? 'user' : autoPause;
    worker.current?.postMessage((reason ? { type: 'pause', reason } : { type: 'resume' }) satisfies ToWorker);
  }, [userPaused, autoPause, started]);

  const consent = useCallback(() => {
    localStorage.setItem(CONSENT, 'yes');
    setConsented(true);
  }, []);
  const withdraw = useCallback(() => {
    localStorage.removeItem(CONSENT);
    setConsented(false);
    setState(null);
  }, []);
  const setDutyCycle = useCallback((value: number) => {
    localStorage.setItem(DUTY, String(value));
    setDuty(value);
    worker.current?.postMessage({ type: 'duty-cycle', value } satisfies ToWorker);
  }, []);

  return {
    consented,
    consent,
    withdraw,
    state,
    progress,
    dutyCycle,
    setDutyCycle,
    paused: userPaused,
    setPaused: setUserPaused,
    autoPause,
  };
}
