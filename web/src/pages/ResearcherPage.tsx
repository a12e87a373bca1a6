import { api, unwrap } from '../api-client.ts';
import { DatasetTable } from '../components/DatasetTable.tsx';
import { RoundDownloads } from '../components/RoundDownloads.tsx';
import { useAsync } from '../use-async.ts';

export function ResearcherPage() {
  const datasets = useAsync(async () => unwrap(await api.api.datasets.$get()), []);
  const campaigns = useAsync(async () => unwrap(await api.api.campaigns.$get()), []);
  return (
    <>
      <h1>For researchers</h1>
      <p className="lead">
        Each finished campaign round becomes an optimized dataset: one target vector per image, with provenance,
        downloadable as <code>.npz</code> or <code>.safetensors</code>.
      </p>
      <section className="card">
        <h2>Optimized datasets</h2>
        {campaigns.data?.campaigns.length === 0 && <p className="muted">No campaigns yet.</p>}
        {campaigns.data?.campaigns.map((c) => (
          <div key={c.id} className="campaign-block">
            <h3>{c.name}</h3>
            <RoundDownloads campaignId={c.id} name={c.name} />
          </div>
        ))}
        {campaigns.error && <p className="error">{campaigns.error}</p>}
      </section>
      <section className="card">
        <h2>Source datasets</h2>
        {datasets.data && <DatasetTable datasets={datasets.data.datasets} />}
        {datasets.error && <p className="error">{datasets.error}</p>}
      </section>
    </>
  );
}
