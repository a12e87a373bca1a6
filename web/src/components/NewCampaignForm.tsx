import type { PriorSummary } from '@coopt/server/prior-summary';
import type { CampaignSummary } from '@coopt/shared';
import { useState } from 'react';
import { adminApi, unwrap } from '../api-client.ts';
import { PriorUpload } from './PriorUpload.tsx';

interface DatasetOption {
  id: number;
  name: string;
  count: number;
}

type Verification = 'replication' | 'spot-check' | 'none';

/** Creates a campaign: a dataset, priors (existing or uploaded here), and the method's parameters. */
export function NewCampaignForm({
  token,
  datasets,
  priors,
  onCreated,
}: {
  token: string;
  datasets: DatasetOption[];
  priors: PriorSummary[];
  onCreated: (c: CampaignSummary) => void;
}) {
  const [added, setAdded] = useState<PriorSummary[]>([]);
  const all = [...priors, ...added.filter((a) => !priors.some((p) => p.id === a.id))];
  const [chosen, setChosen] = useState<number[]>([]);
  const [form, setForm] = useState({
    name: '',
    datasetId: datasets[0]?.id ?? 0,
    shardSize: 500,
    sharedSetSize: 500,
    targetDim: 64,
    seed: 1,
    verification: 'replication' as Verification,
  });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof typeof form>(k: K, v: (typeof form)[K]) => setForm((f) => ({ ...f, [k]: v }));

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const verification =
        form.verification === 'replication'
          ? { kind: 'replication' as const, replicas: 2, tolerance: 1e-3 }
          : form.verification === 'spot-check'
            ? { kind: 'spot-check' as const, rate: 0.05, tolerance: 1e-3 }
            : { kind: 'none' as const };
      const created = await unwrap(
        await adminApi(token).api.admin.campaigns.$post({
          json: {
            name: form.name,
            datasetId: form.datasetId,
            priorIds: chosen,
            shardSize: form.shardSize,
            sharedSetSize: form.sharedSetSize,
            targetDim: form.targetDim,
            seed: form.seed,
            verification,
          },
        }),
      );
      onCreated(created as CampaignSummary);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const number = (k: 'shardSize' | 'sharedSetSize' | 'targetDim' | 'seed', label: string) => (
    <label>
      {label}
      <input type="number" aria-label={label} value={form[k]} onChange={(e) => set(k, Number(e.target.value))} />
    </label>
  );

  return (
    <div className="new-campaign" data-testid="new-campaign">
      <div className="form-grid">
        <label>
          Campaign name
          <input aria-label="Campaign name" value={form.name} onChange={(e) => set('name', e.target.value)} />
        </label>
        <label>
          Dataset
          <select
            aria-label="Dataset"
            value={form.datasetId}
            onChange={(e) => set('datasetId', Number(e.target.value))}
          >
            {datasets.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.count.toLocaleString('en')} images)
              </option>
            ))}
          </select>
        </label>
        {number('shardSize', 'Shard size')}
        {number('sharedSetSize', 'Shared set size')}
        {number('targetDim', 'Target dimension n')}
        {number('seed', 'Seed')}
        <label>
          Verification
          <select
            aria-label="Verification"
            value={form.verification}
            onChange={(e) => set('verification', e.target.value as Verification)}
          >
            <option value="replication">two volunteers must agree</option>
            <option value="spot-check">server spot checks 5% of rows</option>
            <option value="none">structural checks only</option>
          </select>
        </label>
      </div>
      <fieldset className="prior-picks">
        <legend>Prior models</legend>
        {all.map((p) => (
          <label key={p.id} className="check">
            <input
              type="checkbox"
              checked={chosen.includes(p.id)}
              onChange={(e) => setChosen((c) => (e.target.checked ? [...c, p.id] : c.filter((x) => x !== p.id)))}
            />
            {p.name} <span className="muted">({p.featureDim} features)</span>
          </label>
        ))}
      </fieldset>
      <h3>Add a prior from an ONNX file</h3>
      <PriorUpload
        token={token}
        onAdded={(p) => {
          setAdded((a) => [...a, p]);
          setChosen((c) => [...c, p.id]);
        }}
      />
      <div className="actions">
        <button type="button" className="primary" disabled={busy || !form.name || chosen.length === 0} onClick={submit}>
          {busy ? 'Creating…' : 'Create campaign'}
        </button>
        {error && <span className="error">{error}</span>}
      </div>
    </div>
  );
}
