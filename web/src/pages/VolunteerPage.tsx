import type { Backend, VolunteerState } from '@coopt/shared/volunteer';
import { useEffect, useMemo, useState } from 'react';
import { api, unwrap } from '../api-client.ts';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { probeDevice } from '../device-probe.ts';
import { useAsync } from '../use-async.ts';
import { useVolunteer } from '../volunteer/use-volunteer.ts';

const BACKEND_LABEL: Record<Backend, string> = {
  webgpu: 'WebGPU',
  webgl: 'WebGL',
  wasm: 'WebAssembly (CPU)',
  cpu: 'plain JavaScript (CPU)',
};
const ALL_BACKENDS: Backend[] = ['webgpu', 'webgl', 'wasm'];

function describe(state: VolunteerState | null): string {
  if (!state) return 'Starting the compute worker…';
  switch (state.kind) {
    case 'check':
      return 'Checking this device…';
    case 'load':
      return `Downloading ${state.what} (${(state.loadedBytes / 2 ** 20).toFixed(1)} of ${(state.totalBytes / 2 ** 20).toFixed(1)} MiB)`;
    case 'warmup':
      return `Warming up ${state.prior} on the GPU…`;
    case 'ready':
      return `Ready on ${BACKEND_LABEL[state.backend]}; asking for work…`;
    case 'waiting':
      return `No work open right now; asking again in ${Math.round(state.retryInMs / 1000)} s.`;
    case 'run':
      return state.phase === 'score'
        ? `Scoring ${state.prior} on the shared set`
        : state.phase === 'align'
          ? `Aligning ${state.prior} to the reference targets`
          : `Computing targets with ${state.prior}`;
    case 'paused':
      return state.reason === 'user'
        ? 'Paused. Your progress is kept.'
        : state.reason === 'hidden'
          ? 'Paused while this tab is hidden.'
          : 'Paused while the device runs on battery.';
    case 'interrupted':
      return `Interrupted: ${state.error}. Retrying in ${Math.round(state.retryInMs / 1000)} s.`;
  }
}

function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
}

export function VolunteerPage() {
  const device = useAsync(probeDevice, []);
  const options = useMemo(() => {
    const q = new URLSearchParams(location.search);
    const forced = q.get('backend') as Backend | null;
    const priors = q.get('priors');
    const campaign = Number(q.get('campaign'));
    return {
      campaignId: Number.isInteger(campaign) && campaign > 0 ? campaign : undefined,
      backends: forced && ALL_BACKENDS.includes(forced) ? [forced] : ALL_BACKENDS,
      priorIds: priors ? priors.split(',').map(Number).filter(Number.isInteger) : undefined,
    };
  }, []);
  const v = useVolunteer(options);
  const p = v.progress;
  const [stats, setStats] = useState<{ fraction: number; targeted: number; shards: number; name?: string } | null>(
    null,
  );

  useEffect(() => {
    const id = p?.campaignId;
    if (!id) return;
    let live = true;
    const poll = async () => {
      const s = await unwrap(await api.api.campaigns[':id'].stats.$get({ param: { id: String(id) } })).catch(
        () => null,
      );
      if (live && s) setStats(s.coverage);
    };
    void poll();
    const timer = setInterval(poll, 3000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [p?.campaignId]);

  return (
    <>
      <section className="hero">
        <h1>Lend your GPU to science</h1>
        <p className="lead">
          Keep this tab open and your graphics card computes training targets for an open image dataset, one small shard
          at a time. Researchers then train better models in a fraction of the time.
        </p>
      </section>

      <div className="grid two">
        <section className="card" data-testid="device-card">
          <h2>Your device</h2>
          {device.loading && <p className="muted">Checking what this browser can compute with…</p>}
          {device.data && (
            <dl className="facts">
              <dt>Compute backend</dt>
              <dd>
                <span className={`pill ${p?.backend ?? device.data.backend}`} data-testid="backend">
                  {BACKEND_LABEL[p?.backend ?? device.data.backend]}
                </span>
              </dd>
              <dt>Adapter</dt>
              <dd>{device.data.adapter ?? 'none'}</dd>
              {device.data.limits && (
                <>
                  <dt>Largest buffer</dt>
                  <dd>{Math.round(device.data.limits.maxBufferSize / 2 ** 20)} MiB</dd>
                </>
              )}
              <dt>CPU threads</dt>
              <dd>{device.data.cores}</dd>
            </dl>
          )}
          {device.error && <p className="error">{device.error}</p>}
        </section>

        <section className="card" data-testid="contribute-card">
          <h2>Contribute</h2>
          {!v.consented ? (
            <>
              <p>
                Your browser will download a prior model and shards of images from this server, compute in a background
                worker, and upload the results. Nothing else on your device is read. You can pause, throttle or stop at
                any time; the tab pauses itself when hidden or on battery.
              </p>
              <button type="button" className="primary" data-testid="start" onClick={v.consent}>
                Start contributing
              </button>
            </>
          ) : (
            <>
              <p className="status-line" data-testid="worker-state" data-state={v.state?.kind ?? 'starting'}>
                {describe(v.state)}
              </p>
              <ProgressBar
                label="This shard"
                value={p && p.shardTotal > 0 ? p.shardDone / p.shardTotal : 0}
                detail={p ? `${p.shardDone.toLocaleString('en')} / ${p.shardTotal.toLocaleString('en')}` : ''}
                testId="shard-progress"
              />
              <ProgressBar
                label="Whole campaign"
                value={stats?.fraction ?? 0}
                detail={
                  stats
                    ? stats.shards > 0
                      ? `${stats.targeted} / ${stats.shards} shards`
                      : 'priors are scored and aligned first'
                    : ''
                }
                testId="campaign-progress"
              />
              <dl className="facts stats">
                <dt>Speed</dt>
                <dd data-testid="speed" data-value={p?.imagesPerSecond ?? 0}>
                  {p ? `${p.imagesPerSecond.toFixed(1)} images/s` : '—'}
                </dd>
                <dt>Time left on this shard</dt>
                <dd data-testid="eta">{formatEta(p?.etaSeconds ?? null)}</dd>
                <dt>Credit</dt>
                <dd data-testid="credit">{(p?.credit ?? 0).toLocaleString('en')} images</dd>
                <dt>Work items finished here</dt>
                <dd data-testid="items">{p?.itemsCompleted ?? 0}</dd>
                {p && p.resumedRows > 0 && (
                  <>
                    <dt>Resumed after reload</dt>
                    <dd data-testid="resumed">{p.resumedRows} rows, not recomputed</dd>
                  </>
                )}
              </dl>
              <label className="slider">
                <span>GPU use: {Math.round(v.dutyCycle * 100)}%</span>
                <input
                  type="range"
                  min={0.1}
                  max={1}
                  step={0.05}
                  value={v.dutyCycle}
                  data-testid="duty-cycle"
                  onChange={(e) => v.setDutyCycle(Number(e.target.value))}
                />
              </label>
              <div className="actions">
                <button type="button" className="primary" data-testid="pause" onClick={() => v.setPaused(!v.paused)}>
                  {v.paused ? 'Resume' : 'Pause'}
                </button>
                <button type="button" className="ghost" onClick={v.withdraw}>
                  Stop contributing
                </button>
              </div>
            </>
          )}
        </section>
      </div>
    </>
  );
}
