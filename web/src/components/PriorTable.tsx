import type { PriorSummary } from '@coopt/server/prior-summary';

export function PriorTable({ priors }: { priors: PriorSummary[] }) {
  if (priors.length === 0) return <p className="muted">No priors yet.</p>;
  return (
    <table className="table" data-testid="prior-table">
      <thead>
        <tr>
          <th>Name</th>
          <th>Input</th>
          <th className="num">Features</th>
          <th>Checked against onnxruntime</th>
        </tr>
      </thead>
      <tbody>
        {priors.map((p) => (
          <tr key={p.id}>
            <td className="strong">{p.name}</td>
            <td>
              {p.inputHeight}×{p.inputWidth}×{p.inputChannels}
            </td>
            <td className="num">{p.featureDim}</td>
            <td>
              {p.verification ? (
                <span className="tag ok">
                  max error {p.verification.maxRelError.toExponential(1)} on {p.verification.images} images
                </span>
              ) : (
                <span className="muted">not checked</span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
