import { useState } from 'react';
import { api, unwrap } from '../api-client.ts';
import { useAsync } from '../use-async.ts';
import { ResearchReport, TrainingRuns } from './TrainingRuns.tsx';

interface Manifest {
  round: number;
  rows: number;
  targetDim: number;
  bestPriorId: number;
  priors: { id: number; name: string; uniformity: number; reference: boolean; heldOutR2: number | null }[];
  files: Record<string, { size: number; sha256: string }>;
}

const snippet = (campaignId: number, round: number, origin: string) =>
  `import io, urllib.request, numpy as np, torch
url = "${origin}/api/campaigns/${campaignId}/rounds/${round}/targets.npz"
d = np.load(io.BytesIO(urllib.request.urlopen(url).read()))
targets, sample_ids = torch.from_numpy(d["targets"]), torch.from_numpy(d["sample_ids"])  # [N, n] float32, [N] int64
`;

/** One campaign's rounds: download buttons, the manifest of the chosen round, and a Python snippet. */
export function RoundDownloads({ campaignId, name }: { campaignId: number; name: string }) {
  const rounds = useAsync(
    async () => unwrap(await api.api.campaigns[':id'].rounds.$get({ param: { id: String(campaignId) } })),
    [campaignId],
  );
  const done = rounds.data?.rounds.filter((r) => r.status === 'complete') ?? [];
  const [chosen, setChosen] = useState<number | null>(null);
  const round = chosen ?? done.at(-1)?.number ?? null;
  const manifest = useAsync(async () => {
    if (round === null) return null;
    const res = await fetch(`/api/campaigns/${campaignId}/rounds/${round}/manifest.json`);
    return res.ok ? ((await res.json()) as Manifest) : null;
  }, [campaignId, round]);
  const [copied, setCopied] = useState(false);

  if (rounds.loading) return <p className="muted">Loading {name}…</p>;
  if (done.length === 0) {
    const current = rounds.data?.rounds.at(-1);
    return (
      <p className="muted">
        {name}: round {current?.number ?? 1} is {current?.status ?? 'starting'}; its optimized dataset appears here when
        every shard is verified.
      </p>
    );
  }
  const code = snippet(campaignId, round ?? 1, location.origin);
  const current = done.find((r) => r.number === round);
  return (
    <div className="round-downloads" data-testid={`downloads-${name}`}>
      <div className="row">
        {done.map((r) => (
          <button
            key={r.number}
            type="button"
            className={r.number === round ? 'primary' : ''}
            onClick={() => setChosen(r.number)}
          >
            Round {r.number}
          </button>
        ))}
      </div>
      {manifest.data && (
        <>
          <p>
            {manifest.data.rows.toLocaleString('en')} images × {manifest.data.targetDim} targets; reference prior{' '}
            <strong>{manifest.data.priors.find((p) => p.reference)?.name}</strong>.
          </p>
          <div className="row downloads">
            {['targets.npz', 'targets.safetensors', 'manifest.json'].map((f) => (
              <a key={f} className="button" href={`/api/campaigns/${campaignId}/rounds/${round}/${f}`} download>
                {f}
                {manifest.data?.files[f] ? ` · ${(manifest.data.files[f].size / 2 ** 20).toFixed(1)} MiB` : ''}
              </a>
            ))}
          </div>
          <table className="table" data-testid="manifest-priors">
            <thead>
              <tr>
                <th>Prior</th>
                <th className="num">Uniformity</th>
                <th className="num">Held-out R²</th>
                <th>Role</th>
              </tr>
            </thead>
            <tbody>
              {manifest.data.priors.map((p) => (
                <tr key={p.id}>
                  <td className="strong">{p.name}</td>
                  <td className="num">{p.uniformity.toFixed(3)}</td>
                  <td className="num">{p.heldOutR2 === null ? '—' : p.heldOutR2.toFixed(3)}</td>
                  <td>{p.reference ? <span className="tag ok">reference</span> : 'aligned'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {current && (
        <>
          <h3>Trained students</h3>
          {current.trainingRuns.length === 0 ? (
            <p className="muted">No student has been trained on this round yet.</p>
          ) : (
            <TrainingRuns campaignId={campaignId} round={current.number} runs={current.trainingRuns} />
          )}
          {current.report && (
            <ResearchReport
              report={current.report}
              version={current.trainingRuns.map((t) => `${t.id}:${t.status}`).join(',')}
            />
          )}
        </>
      )}
      <div className="snippet">
        <pre data-testid="python-snippet">{code}</pre>
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(code).then(() => setCopied(true));
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}
