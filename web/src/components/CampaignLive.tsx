import { useEffect, useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { api, unwrap } from '../api-client.ts';
import { describeRun, ResearchReport, TrainingRuns } from './TrainingRuns.tsx';

const POLL_MS = 2000;
const HISTORY = 90;
const AXIS = { stroke: '#93a0b8', fontSize: 12 };
const CELL_CLASS: Record<string, string> = { o: 'open', l: 'leased', d: 'done' };

type Stats = Awaited<ReturnType<typeof loadStats>>;
const loadStats = async (id: number) =>
  unwrap(await api.api.campaigns[':id'].stats.$get({ param: { id: String(id) } }));
const loadRounds = async (id: number) =>
  unwrap(await api.api.campaigns[':id'].rounds.$get({ param: { id: String(id) } }));

/**
 * A campaign as it runs: the shard coverage map, volunteers and leases, throughput over time, each
 * prior's uniformity and alignment fit, G before and after alignment, rounds and training runs.
 */
export function CampaignLive({
  campaignId,
  name,
  adminToken,
}: {
  campaignId: number;
  name: string;
  adminToken?: string;
}) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [rounds, setRounds] = useState<Awaited<ReturnType<typeof loadRounds>>['rounds']>([]);
  const [history, setHistory] = useState<{ t: string; rows: number }[]>([]);

  useEffect(() => {
    let live = true;
    setHistory([]);
    const poll = async () => {
      const [s, r] = await Promise.all([loadStats(campaignId), loadRounds(campaignId)]).catch(() => [null, null]);
      if (!live || !s || !r) return;
      setStats(s);
      setRounds(r.rounds);
      const t = new Date().toLocaleTimeString('en-GB');
      setHistory((h) => [...h.slice(-HISTORY + 1), { t, rows: s.throughput.rowsLastMinute }]);
    };
    void poll();
    const timer = setInterval(poll, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [campaignId]);

  if (!stats) return <p className="muted">Loading {name}…</p>;
  const priors = stats.priors.map((p) => ({
    name: p.name,
    uniformity: Number(p.uniformity.toFixed(3)),
    r2: p.heldOutR2 === null ? null : Number(p.heldOutR2.toFixed(3)),
    reference: p.reference === true,
  }));
  const g = [
    { when: 'before alignment', g: stats.round.inconsistencyBefore ?? 0 },
    { when: 'after alignment', g: stats.round.inconsistencyAfter ?? 0 },
  ];

  return (
    <div className="live" data-testid="campaign-live">
      <div className="kpis">
        <Kpi label="Round" value={`${stats.round.number} · ${stats.round.status}`} />
        <Kpi label="Coverage" value={`${Math.round(stats.coverage.fraction * 100)}%`} testId="kpi-coverage" />
        <Kpi label="Volunteers online" value={String(stats.volunteers.active)} />
        <Kpi label="Leases held / expired" value={`${stats.leases.active} / ${stats.leases.expired}`} />
        <Kpi label="Images in the last minute" value={stats.throughput.rowsLastMinute.toLocaleString('en')} />
        <Kpi
          label="Verification cost"
          value={`${(stats.verification.share * 100).toFixed(1)}% of rows`}
          title={`${stats.verification.recomputedRows} rows recomputed in ${Math.round(stats.verification.milliseconds)} ms`}
        />
      </div>

      <h3>Shards</h3>
      {stats.coverage.cells ? (
        <div className="coverage-map" data-testid="coverage-map">
          {[...stats.coverage.cells].map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: one cell per shard index, in order
            <span key={i} className={`cell ${CELL_CLASS[c] ?? ''}`} title={`shard ${i}: ${CELL_CLASS[c] ?? c}`} />
          ))}
        </div>
      ) : (
        <p className="muted">
          Shards are handed out once every prior is scored ({stats.scoring.done}/{stats.scoring.total}) and aligned (
          {stats.aligning.done}/{stats.aligning.total}).
        </p>
      )}

      <div className="charts">
        <figure>
          <figcaption>Throughput (images per minute)</figcaption>
          <ResponsiveContainer width="100%" height={180}>
            <LineChart data={history}>
              <CartesianGrid stroke="#2a3550" />
              <XAxis dataKey="t" tick={AXIS} minTickGap={40} />
              <YAxis tick={AXIS} width={50} />
              <Tooltip contentStyle={{ background: '#171e2e', border: '1px solid #2a3550' }} />
              <Line type="monotone" dataKey="rows" stroke="#5eead4" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </figure>
        <figure>
          <figcaption>Uniformity per prior (lower is better; the best is the reference)</figcaption>
          <ResponsiveContainer width="100%" height={180}>
            <BarChart data={priors}>
              <CartesianGrid stroke="#2a3550" />
              <XAxis dataKey="name" tick={AXIS} />
              <YAxis tick={AXIS} width={50} />
              <Tooltip contentStyle={{ background: '#171e2e', border: '1px solid #2a3550' }} />
              <Bar dataKey="uniformity" isAnimationActive={false}>
                {priors.map((p) => (
                  <Cell key={p.name} fill={p.reference ? '#5eead4' : '#818cf8'} />
                ))}
              </Bar>
            </BarChart>
          </ResponsiveContainer>
        </figure>
        <figure>
          <figcaption>Alignment fit: held-out R² per prior</figcaption>
          <ResponsiveContainer width="100%" height={180}>
            <BarChart data={priors}>
              <CartesianGrid stroke="#2a3550" />
              <XAxis dataKey="name" tick={AXIS} />
              <YAxis tick={AXIS} width={50} domain={[0, 1]} />
              <Tooltip contentStyle={{ background: '#171e2e', border: '1px solid #2a3550' }} />
              <Bar dataKey="r2" fill="#fbbf24" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </figure>
        <figure>
          <figcaption>Inconsistency G between priors (Eq. 3)</figcaption>
          <ResponsiveContainer width="100%" height={180}>
            <BarChart data={g}>
              <CartesianGrid stroke="#2a3550" />
              <XAxis dataKey="when" tick={AXIS} />
              <YAxis tick={AXIS} width={50} />
              <Tooltip contentStyle={{ background: '#171e2e', border: '1px solid #2a3550' }} />
              <Bar dataKey="g" isAnimationActive={false}>
                <Cell fill="#f87171" />
                <Cell fill="#5eead4" />
              </Bar>
            </BarChart>
          </ResponsiveContainer>
        </figure>
      </div>

      {rounds.flatMap((r) => r.trainingRuns).some((t) => curveOf(t.metrics).length > 0) && (
        <figure className="curves" data-testid="training-curves">
          <figcaption>Student training: loss per epoch</figcaption>
          <ResponsiveContainer width="100%" height={200}>
            <LineChart>
              <CartesianGrid stroke="#2a3550" />
              <XAxis dataKey="epoch" type="number" tick={AXIS} allowDecimals={false} />
              <YAxis tick={AXIS} width={50} />
              <Tooltip contentStyle={{ background: '#171e2e', border: '1px solid #2a3550' }} />
              {rounds.flatMap((r) =>
                r.trainingRuns.map((t, i) => (
                  <Line
                    key={t.id}
                    data={curveOf(t.metrics)}
                    dataKey="loss"
                    name={`round ${r.number}, run ${t.id} (${(t.metrics?.kind as string | undefined) ?? 'coopt'})`}
                    stroke={i % 2 === 0 ? '#5eead4' : '#818cf8'}
                    dot={false}
                    isAnimationActive={false}
                  />
                )),
              )}
            </LineChart>
          </ResponsiveContainer>
        </figure>
      )}

      <h3>Rounds</h3>
      <table className="table" data-testid="round-table">
        <thead>
          <tr>
            <th>Round</th>
            <th>Status</th>
            <th className="num">G before → after</th>
            <th>Student training</th>
          </tr>
        </thead>
        <tbody>
          {rounds.map((r) => (
            <tr key={r.number}>
              <td className="strong">{r.number}</td>
              <td>
                <span className={`tag ${r.status === 'complete' ? 'ok' : ''}`}>{r.status}</span>
              </td>
              <td className="num">
                {r.inconsistencyBefore === null
                  ? '—'
                  : `${r.inconsistencyBefore.toFixed(3)} → ${(r.inconsistencyAfter ?? 0).toFixed(3)}`}
              </td>
              <td>
                {r.trainingRuns.length === 0
                  ? 'queued when the round completes'
                  : r.trainingRuns
                      .map((t) => `run ${t.id}: ${t.status === 'running' ? describeRun(t) : t.status}`)
                      .join(', ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      {rounds
        .filter((r) => r.status === 'complete')
        .map((r) => (
          <section key={r.number} className="round-training">
            <h3>Round {r.number}: students and research report</h3>
            <TrainingRuns campaignId={campaignId} round={r.number} runs={r.trainingRuns} adminToken={adminToken} />
            {r.report && (
              <ResearchReport report={r.report} version={r.trainingRuns.map((t) => `${t.id}:${t.status}`).join(',')} />
            )}
          </section>
        ))}
    </div>
  );
}

/** A training run's per-epoch history, when its metrics carry one. */
function curveOf(metrics: Record<string, unknown> | null): { epoch: number; loss: number }[] {
  const history = metrics?.history;
  if (!Array.isArray(history)) return [];
  return history.filter(
    (h): h is { epoch: number; loss: number } =>
      typeof h === 'object' && h !== null && typeof h.epoch === 'number' && typeof h.loss === 'number',
  );
}

function Kpi({ label, value, title, testId }: { label: string; value: string; title?: string; testId?: string }) {
  return (
    <div className="kpi" title={title} data-testid={testId}>
      <span className="kpi-value">{value}</span>
      <span className="kpi-label">{label}</span>
    </div>
  );
}
