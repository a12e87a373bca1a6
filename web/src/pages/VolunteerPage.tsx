import { api, unwrap } from '../api-client.ts';
import { probeDevice } from '../device-probe.ts';
import { useAsync } from '../use-async.ts';

const BACKEND_LABEL = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WebAssembly (CPU)' } as const;

export function VolunteerPage() {
  const device = useAsync(probeDevice, []);
  const datasets = useAsync(async () => unwrap(await api.api.datasets.$get()), []);
  const images = datasets.data?.datasets.reduce((n, d) => n + d.count, 0) ?? 0;

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
                <span className={`pill ${device.data.backend}`} data-testid="backend">
                  {BACKEND_LABEL[device.data.backend]}
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

        <section className="card">
          <h2>Contribute</h2>
          <p>
            There is no campaign running yet. When an admin starts one, this page will fetch a prior model and a shard
            of images, compute on your GPU in a background worker, and show your progress and credit here.
          </p>
          <p className="muted">
            {datasets.data
              ? `${datasets.data.datasets.length} dataset(s) with ${images.toLocaleString('en')} images are ready for campaigns.`
              : ' '}
          </p>
          <button type="button" className="primary" disabled>
            Waiting for a campaign
          </button>
        </section>
      </div>
    </>
  );
}
