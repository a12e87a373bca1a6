import { api, unwrap } from '../api-client.ts';
import { DatasetTable } from '../components/DatasetTable.tsx';
import { useAsync } from '../use-async.ts';

export function ResearcherPage() {
  const datasets = useAsync(async () => unwrap(await api.api.datasets.$get()), []);
  return (
    <>
      <h1>For researchers</h1>
      <p className="lead">
        Each finished campaign round becomes an optimized dataset: one target vector per image, with provenance,
        downloadable as <code>.npz</code> or <code>.safetensors</code>.
      </p>
      <section className="card">
        <h2>Source datasets</h2>
        {datasets.data && <DatasetTable datasets={datasets.data.datasets} />}
        {datasets.error && <p className="error">{datasets.error}</p>}
      </section>
      <section className="card">
        <h2>Optimized datasets</h2>
        <p className="muted">
          No campaign round has finished yet. Finished rounds appear here with their manifest and downloads.
        </p>
      </section>
    </>
  );
}
