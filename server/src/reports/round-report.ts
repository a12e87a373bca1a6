import os from 'node:os';
import { and, asc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.ts';
import { campaigns, datasets, priorModels, rounds, trainingRuns } from '../db/schema.ts';
import { AppError } from '../http/app-error.ts';
import type { TrainingKind } from '../training/training-run-config.ts';
import { spearmanRho } from './rank-correlation.ts';
import { barChart, lineChart, scatterChart } from './svg-charts.ts';

export const REPORT_PLOTS = ['accuracy-vs-time.svg', 'uniformity-vs-accuracy.svg', 'alignment-ablation.svg'] as const;
export type ReportPlot = (typeof REPORT_PLOTS)[number];

const LABEL: Record<Exclude<TrainingKind, 'priors'>, string> = {
  random: 'Random init',
  simclr: 'SimCLR',
  supervised: 'Supervised (labels)',
  coopt: 'CoOpt',
  'worst-prior': 'CoOpt, worst-prior reference',
  'no-align': 'CoOpt, no alignment',
};

interface Probe {
  accuracies: number[];
  mean: number;
  std: number;
  images: number;
}
interface RunMetrics {
  kind?: TrainingKind;
  architecture?: string;
  backend?: string;
  epochs?: number;
  images?: number;
  seconds?: number;
  history?: { epoch: number; seconds: number; loss: number; probeAccuracy?: number }[];
  probe?: Probe | null;
  priors?: { priorId: number; name: string; uniformity: number; probe: Probe }[];
}

export interface RoundReport {
  markdown: string;
  plots: Record<ReportPlot, string>;
  summary: {
    accuracy: Partial<Record<TrainingKind, { mean: number; std: number; seconds: number; runId: number }>>;
    coOptBeatsSimclr: boolean | null;
    /** CoOpt's training time to SimCLR's final accuracy, as a share of SimCLR's whole training time. */
    timeToSimclrAccuracy: number | null;
    spearmanRho: number | null;
  };
}

const pct = (p: { mean: number; std: number }) => `${(p.mean * 100).toFixed(1)} ± ${(p.std * 100).toFixed(1)}`;

/**
 * The research report of a round, from its finished training runs (the latest of each kind):
 * accuracy against training time per method, a table shaped like the paper's Table 2, each prior's
 * uniformity against its own probe accuracy with Spearman's ρ, and the alignment ablation.
 * Sections whose runs have not finished say which run to start.
 */
export async function buildRoundReport(
  database: Database,
  campaignId: number,
  roundNumber: number,
): Promise<RoundReport> {
  const { db } = database;
  const [row] = await db
    .select({ round: rounds, campaign: campaigns, dataset: datasets })
    .from(rounds)
    .innerJoin(campaigns, eq(campaigns.id, rounds.campaignId))
    .innerJoin(datasets, eq(datasets.id, campaigns.datasetId))
    .where(and(eq(rounds.campaignId, campaignId), eq(rounds.number, roundNumber)));
  if (!row) throw AppError.notFound(`campaign ${campaignId} has no round ${roundNumber}`);
  const runs = await db
    .select()
    .from(trainingRuns)
    .where(and(eq(trainingRuns.roundId, row.round.id), eq(trainingRuns.status, 'done')))
    .orderBy(asc(trainingRuns.id));
  const latest = new Map<TrainingKind, { id: number; m: RunMetrics }>();
  for (const r of runs) {
    const m = (r.metrics ?? {}) as RunMetrics;
    latest.set(m.kind ?? 'coopt', { id: r.id, m });
  }
  const best = row.round.bestModelId
    ? (await db.select().from(priorModels).where(eq(priorModels.id, row.round.bestModelId)))[0]
    : undefined;

  const methods = (['random', 'simclr', 'supervised', 'coopt', 'worst-prior', 'no-align'] as const).filter((k) =>
    latest.has(k),
  );
  const summary: RoundReport['summary'] = {
    accuracy: {},
    coOptBeatsSimclr: null,
    timeToSimclrAccuracy: null,
    spearmanRho: null,
  };
  for (const k of methods) {
    const { id, m } = latest.get(k) as { id: number; m: RunMetrics };
    if (m.probe) summary.accuracy[k] = { mean: m.probe.mean, std: m.probe.std, seconds: m.seconds ?? 0, runId: id };
  }

  const md: string[] = [];
  const coopt = latest.get('coopt')?.m;
  md.push(
    `# Research report: ${row.campaign.name}, round ${roundNumber}`,
    '',
    `- Dataset: ${row.dataset.name} (${row.dataset.count} images, ${row.dataset.height}x${row.dataset.width}x${row.dataset.channels})`,
    `- Reference prior: ${best?.name ?? 'none'}; target dimension ${row.campaign.targetDim}`,
    `- Inconsistency G (Eq. 3): ${row.round.inconsistencyBefore?.toFixed(4) ?? 'n/a'} before alignment, ${row.round.inconsistencyAfter?.toFixed(4) ?? 'n/a'} after`,
    coopt
      ? `- Students: ${coopt.architecture}, ${coopt.epochs} epochs on ${coopt.images} images, batch 128, AdamW; TF.js ${coopt.backend ?? 'wasm'} backend on a machine with ${os.cpus().length} CPU cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'})`
      : '- No CoOpt student has finished training on this round yet.',
    '- Accuracy: linear probe (logistic regression on the frozen encoder) on labelled images, mean ± std over 3 seeds of the probe split; curves use the first seed after every epoch. Time: training seconds, probes excluded.',
    '',
  );

  // Table 2 shape.
  md.push("## Comparison (shaped like the paper's Table 2)", '');
  const table = methods.filter((k) => summary.accuracy[k]);
  if (table.length === 0)
    md.push(
      'No finished runs yet. Start them from the dashboard or `POST /api/admin/campaigns/:id/rounds/:round/training-runs`.',
      '',
    );
  else {
    const simclr = summary.accuracy.simclr;
    const c = summary.accuracy.coopt;
    md.push(
      `| Metric | ${table.map((k) => LABEL[k as keyof typeof LABEL]).join(' | ')} |`,
      `|---|${table.map(() => '---|').join('')}`,
      `| Acc. (%) | ${table
        .map((k) => {
          const a = summary.accuracy[k] as { mean: number; std: number };
          const up =
            k === 'coopt' && simclr
              ? ` (${c && c.mean >= simclr.mean ? '↑' : '↓'} ${(Math.abs((c?.mean ?? 0) - simclr.mean) * 100).toFixed(1)} vs SimCLR)`
              : '';
          return `${pct(a)}${up}`;
        })
        .join(' | ')} |`,
      `| Time (s) | ${table
        .map((k) => {
          const a = summary.accuracy[k] as { seconds: number };
          const times =
            k === 'coopt' && simclr && a.seconds > 0 ? ` (×${(simclr.seconds / a.seconds).toFixed(2)} vs SimCLR)` : '';
          return `${a.seconds.toFixed(1)}${times}`;
        })
        .join(' | ')} |`,
      '',
    );
  }

  // The paper's claim, checked on this round's runs.
  const simclrRun = latest.get('simclr')?.m;
  md.push('## CoOpt against SimCLR', '');
  if (coopt?.probe && simclrRun?.probe) {
    summary.coOptBeatsSimclr = coopt.probe.mean > simclrRun.probe.mean;
    const sameEpochs = coopt.epochs === simclrRun.epochs;
    md.push(
      `- After ${coopt.epochs} epochs${sameEpochs ? ' each' : ` (SimCLR: ${simclrRun.epochs})`}: CoOpt ${pct(coopt.probe)}% against SimCLR ${pct(simclrRun.probe)}%: CoOpt ${summary.coOptBeatsSimclr ? 'is ahead' : 'is not ahead'}.`,
    );
    const target = simclrRun.history?.at(-1)?.probeAccuracy;
    const simclrSeconds = simclrRun.seconds ?? 0;
    const reached = target === undefined ? undefined : coopt.history?.find((h) => (h.probeAccuracy ?? -1) >= target);
    if (target !== undefined && reached && simclrSeconds > 0) {
      summary.timeToSimclrAccuracy = reached.seconds / simclrSeconds;
      md.push(
        `- SimCLR's final accuracy (${(target * 100).toFixed(1)}%, first probe seed) took it ${simclrSeconds.toFixed(1)} s; CoOpt reached it after epoch ${reached.epoch}, at ${reached.seconds.toFixed(1)} s: ${summary.timeToSimclrAccuracy.toFixed(2)}x SimCLR's time (the paper's claim: at most 0.55x).`,
      );
    } else if (target !== undefined) {
      md.push(
        `- CoOpt did not reach SimCLR's final accuracy (${(target * 100).toFixed(1)}%) within its ${coopt.epochs} epochs.`,
      );
    }
    md.push('');
  } else md.push('Needs a finished `coopt` run and a finished `simclr` run.', '');
  md.push('![Accuracy against training time](report/accuracy-vs-time.svg)', '');

  // Uniformity against accuracy.
  const priors = latest.get('priors')?.m.priors ?? [];
  md.push('## Prior uniformity against accuracy', '');
  if (priors.length > 0) {
    summary.spearmanRho = spearmanRho(
      priors.map((p) => p.uniformity),
      priors.map((p) => p.probe.mean),
    );
    md.push(
      '| Prior | Uniformity V (lower is better) | Linear-probe accuracy of its own features (%) |',
      '|---|---|---|',
      ...[...priors]
        .sort((a, b) => a.uniformity - b.uniformity)
        .map((p) => `| ${p.name} | ${p.uniformity.toFixed(3)} | ${pct(p.probe)} |`),
      '',
      `Spearman's ρ between V and accuracy: ${Number.isNaN(summary.spearmanRho) ? 'undefined (fewer than two distinct values)' : summary.spearmanRho.toFixed(3)} over ${priors.length} priors (the paper: -0.97 over 16; negative means the more uniform prior is the more accurate).`,
      '',
    );
  } else md.push('Needs a finished `priors` run.', '');
  md.push('![Uniformity against accuracy](report/uniformity-vs-accuracy.svg)', '');

  // Alignment ablation.
  md.push('## Alignment ablation', '');
  const ablation = (['coopt', 'worst-prior', 'no-align'] as const).filter((k) => summary.accuracy[k]);
  if (ablation.length > 0) {
    md.push(
      '| Targets | Acc. (%) | Final training loss |',
      '|---|---|---|',
      ...ablation.map((k) => {
        const m = latest.get(k)?.m as RunMetrics;
        return `| ${k === 'coopt' ? 'aligned to the best prior (CoOpt)' : LABEL[k]} | ${pct(summary.accuracy[k] as { mean: number; std: number })} | ${m.history?.at(-1)?.loss.toFixed(4) ?? 'n/a'} |`;
      }),
      '',
    );
  } else md.push('Needs finished `no-align` and `worst-prior` runs.', '');
  md.push('![Alignment ablation](report/alignment-ablation.svg)', '');

  const curve = (k: TrainingKind): [number, number][] => {
    const m = latest.get(k)?.m;
    if (!m) return [];
    if (k === 'random') return m.probe ? [[0, (m.probe.accuracies[0] ?? m.probe.mean) * 100]] : [];
    return (m.history ?? [])
      .filter((h) => h.probeAccuracy !== undefined)
      .map((h) => [h.seconds, (h.probeAccuracy as number) * 100]);
  };
  const series = methods
    .map((k) => ({ name: LABEL[k as keyof typeof LABEL], points: curve(k) }))
    .filter((s) => s.points.length > 0);
  const plots: Record<ReportPlot, string> = {
    'accuracy-vs-time.svg':
      series.length > 0
        ? lineChart({
            title: 'Linear-probe accuracy against training time',
            xLabel: 'training time (s)',
            yLabel: 'accuracy (%)',
            series,
          })
        : placeholder('No finished training runs yet'),
    'uniformity-vs-accuracy.svg':
      priors.length > 0
        ? scatterChart({
            title: `Uniformity against accuracy (Spearman ρ = ${summary.spearmanRho?.toFixed(2)})`,
            xLabel: 'uniformity value V (lower is better)',
            yLabel: 'probe accuracy (%)',
            points: priors.map((p) => ({ x: p.uniformity, y: p.probe.mean * 100, label: p.name })),
          })
        : placeholder('No finished priors run yet'),
    'alignment-ablation.svg':
      ablation.length > 0
        ? barChart({
            title: 'Alignment ablation: linear-probe accuracy',
            yLabel: 'accuracy (%)',
            bars: ablation.map((k) => {
              const a = summary.accuracy[k] as { mean: number; std: number };
              return {
                label: k === 'coopt' ? 'best prior' : k === 'worst-prior' ? 'worst prior' : 'no alignment',
                value: a.mean * 100,
                error: a.std * 100,
              };
            }),
          })
        : placeholder('No finished ablation runs yet'),
  };
  return { markdown: `${md.join('\n')}\n`, plots, summary };
}

function placeholder(text: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="80" viewBox="0 0 640 80" font-family="sans-serif" role="img"><title>${text}</title><rect width="640" height="80" fill="#f9fafb"/><text x="320" y="45" text-anchor="middle" fill="#6b7280">${text}</text></svg>\n`;
}
