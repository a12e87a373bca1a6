import type { AdminDataset, DatasetSummary } from '@coopt/shared';

const fmt = new Intl.NumberFormat('en');

export function DatasetTable({ datasets }: { datasets: (DatasetSummary | AdminDataset)[] }) {
  if (datasets.length === 0) return <p className="muted">No datasets yet.</p>;
  return (
    <table className="table" data-testid="dataset-table">
      <thead>
        <tr>
          <th>Name</th>
          <th className="num">Images</th>
          <th>Shape</th>
          <th>Format</th>
          {'hasLabels' in (datasets[0] ?? {}) && <th>Evaluation labels</th>}
        </tr>
      </thead>
      <tbody>
        {datasets.map((d) => (
          <tr key={d.id}>
            <td className="strong">{d.name}</td>
            <td className="num">{fmt.format(d.count)}</td>
            <td>
              {d.height}×{d.width}×{d.channels}
            </td>
            <td>
              <span className="tag">{d.format}</span>
            </td>
            {'hasLabels' in d && (
              <td>
                {d.hasLabels ? (
                  `${d.classNames?.length ?? 0} classes (kept on the server)`
                ) : (
                  <span className="muted">none</span>
                )}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
