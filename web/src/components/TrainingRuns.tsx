import { useState } from 'react';
import { adminApi, unwrap } from '../api-client.ts';

const KINDS = [
  ['coopt', 'CoOpt (round targets)'],
  ['simclr', 'SimCLR baseline'],
  ['supervised', 'Supervised (labels)'],
  ['random', 'Random-init encoder'],
  ['no-align', 'Ablation: no alignment'],
  ['worst-prior', 'Ablation: worst-prior reference'],
  ['priors', "Priors' own probe"],
] as const;
type Kind = (typeof KINDS)[number][0];

export interface RunView {
  id: number;
  status: string;
  config: Record<string, unknown>;
  metrics: Record<string, unknown> | null;
  downloads: string[];
}

interface RunMetrics {
  kind?: string;
  architecture?: string;
  epochs?: number;
  stage?: string;
  progress?: { epoch: number; batch: number; batches: number };
  history?: { epoch: number; probeAccuracy?: number }[];
  probe?: { mean: number; std: number } | null;
  priors?: unknown[];
  error?: string;
}

/** Where a run stands, in words: its stage, epoch and batch while it runs; its accuracy when done. */
export function describeRun(run: RunView): string {
  const m = (run.metrics ?? {}) as RunMetrics;
  if (run.status === 'failed') return `failed: ${m.error ?? 'unknown error'}`;
  if (run.status === 'done') {
    if (m.probe) return `probe ${(m.probe.mean * 100).toFixed(1)} ± ${(m.probe.std * 100).toFixed(1)}%`;
    if (m.priors) return `${m.priors.length} priors probed`;
    return 'done';
  }
  if (run.status === 'queued') return 'queued';
  const p = m.progress;
  const epoch =
    p && p.epoch > 0 ? `, epoch ${p.epoch}/${m.epochs}${p.batches ? ` batch ${p.batch}/${p.batches}` : ''}` : '';
  const last = m.history?.at(-1)?.probeAccuracy;
  return `${m.stage ?? 'running'}${epoch}${last === undefined ? '' : `, probe ${(last * 100).toFixed(1)}%`}`;
}

/** A round's training runs with their state and downloads, and (for admins) a form to start another. */
export function TrainingRuns({
  campaignId,
  round,
  runs,
  adminToken,
}: {
  campaignId: number;
  round: number;
  runs: RunView[];
  adminToken?: string;
}) {
  const [kind, setKind] = useState<Kind>('simclr');
  const [architecture, setArchitecture] = useState<'convnet' | 'resnet'>('convnet');
  const [epochs, setEpochs] = useState(5);
  const [notice, setNotice] = useState<string | null>(null);

  const start = async () => {
    if (!adminToken) return;
    try {
      const run = await unwrap(
        await adminApi(adminToken).api.admin.campaigns[':id'].rounds[':round']['training-runs'].$post({
          param: { id: String(campaignId), round: String(round) },
          json: { kind, architecture, epochs },
        }),
      );
      setNotice(`Run ${run.id} queued.`);
    } catch (err) {
      setNotice(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <div className="training-runs" data-testid={`training-runs-${round}`}>
      {runs.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Run</th>
              <th>Kind</th>
              <th>Student</th>
              <th>State</th>
              <th>Student files</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => {
              const m = (r.metrics ?? {}) as RunMetrics;
              const kindOf = m.kind ?? (r.config.kind as string | undefined) ?? 'coopt';
              return (
                <tr key={r.id} data-testid={`run-${r.id}`}>
                  <td className="strong">{r.id}</td>
                  <td>{kindOf}</td>
                  <td>
                    {kindOf === 'priors'
                      ? '—'
                      : `${m.architecture ?? r.config.architecture ?? 'convnet'}, ${m.epochs ?? '…'} epochs`}
                  </td>
                  <td>
                    <span className={`tag ${r.status === 'done' ? 'ok' : ''}`}>{r.status}</span> {describeRun(r)}
                  </td>
                  <td>
                    {r.downloads.map((url) => (
                      <a key={url} href={url} download className="file-link">
                        {url.split('/').at(-1)}
                      </a>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {adminToken && (
        <div className="row">
          <select value={kind} onChange={(e) => setKind(e.target.value as Kind)} aria-label="run kind">
            {KINDS.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
          <select
            value={architecture}
            onChange={(e) => setArchitecture(e.target.value as 'convnet' | 'resnet')}
            aria-label="student architecture"
          >
            <option value="convnet">ConvNet</option>
            <option value="resnet">ResNet</option>
          </select>
          <label>
            epochs{' '}
            <input
              type="number"
              min={1}
              max={1000}
              value={epochs}
              onChange={(e) => setEpochs(Number(e.target.value))}
              aria-label="epochs"
            />
          </label>
          <button type="button" className="primary" onClick={() => void start()}>
            Train
          </button>
          {notice && <span className="muted">{notice}</span>}
        </div>
      )}
    </div>
  );
}

/** A round's research report: its three plots and the markdown, refreshed as runs finish. */
export function ResearchReport({
  report,
  version,
}: {
  report: { markdown: string; plots: string[] };
  /** Changes whenever a run finishes, so the plots are fetched again. */
  version: string;
}) {
  return (
    <div className="research-report" data-testid="research-report">
      <div className="plots">
        {report.plots.map((src) => (
          <img key={src} src={`${src}?v=${encodeURIComponent(version)}`} alt={src.split('/').at(-1)} />
        ))}
      </div>
      <a className="button" href={report.markdown} target="_blank" rel="noreferrer">
        report.md
      </a>
    </div>
  );
}
