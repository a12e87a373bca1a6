/** A labelled progress bar; `value` is a fraction in [0, 1]. */
export function ProgressBar({
  label,
  value,
  detail,
  testId,
}: {
  label: string;
  value: number;
  detail?: string;
  testId?: string;
}) {
  const pct = Math.round(Math.min(1, Math.max(0, value)) * 1000) / 10;
  return (
    <div className="progress" data-testid={testId} data-value={pct}>
      <div className="progress-label">
        <span>{label}</span>
        <span className="muted">
          {detail} {detail ? '·' : ''} {pct}%
        </span>
      </div>
      <div className="progress-track" role="progressbar" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100}>
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
