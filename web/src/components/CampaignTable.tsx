import type { CampaignSummary } from '@coopt/shared';

export function CampaignTable({
  campaigns,
  selected,
  onSelect,
}: {
  campaigns: CampaignSummary[];
  selected?: number | null;
  onSelect?: (c: CampaignSummary) => void;
}) {
  if (campaigns.length === 0) return <p className="muted">No campaigns yet.</p>;
  return (
    <table className="table" data-testid="campaign-table">
      <thead>
        <tr>
          <th>Name</th>
          <th className="num">Priors</th>
          <th className="num">Shards</th>
          <th className="num">Shared set</th>
          <th className="num">Target dim</th>
          <th>Verification</th>
          <th>Status</th>
        </tr>
      </thead>
      <tbody>
        {campaigns.map((c) => (
          <tr
            key={c.id}
            className={`${onSelect ? 'clickable' : ''} ${selected === c.id ? 'selected' : ''}`}
            onClick={() => onSelect?.(c)}
          >
            <td className="strong">{c.name}</td>
            <td className="num">{c.priorIds.length}</td>
            <td className="num">
              {c.shards} × {c.shardSize}
            </td>
            <td className="num">{c.sharedSetSize}</td>
            <td className="num">{c.targetDim}</td>
            <td>
              {c.verification.kind === 'replication' ? `${c.verification.replicas} replicas` : c.verification.kind}
            </td>
            <td>
              <span className="tag ok">{c.status}</span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
