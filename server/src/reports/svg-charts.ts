/**
 * Small, dependency-free SVG charts for the research report: a line chart, a labelled scatter
 * plot and a bar chart with error bars. Each returns a standalone SVG document that browsers,
 * markdown viewers and `<img>` tags show as is.
 */

const WIDTH = 700;
const HEIGHT = 400;
const MARGIN = { left: 64, right: 210, top: 40, bottom: 56 };
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#db2777'];

export interface Series {
  name: string;
  points: [number, number][];
}

const escapeXml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
/** A tick or bar label: integers as they are, others to 1 decimal (2 below 1), without trailing zeros. */
const fmt = (v: number) => String(Number(v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 1 ? 1 : 2)));

/** Round-number ticks covering [min, max]. */
function ticks(min: number, max: number, count = 5): number[] {
  const span = max - min || Math.abs(max) || 1;
  const raw = span / count;
  const step = 10 ** Math.floor(Math.log10(raw));
  const nice = ([1, 2, 5, 10].find((m) => m * step >= raw) ?? 10) * step;
  const out: number[] = [];
  for (let v = Math.ceil(min / nice) * nice; v <= max + nice * 1e-9; v += nice) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(title: string, xLabel: string, yLabel: string, x: [number, number], y: [number, number], xTicks = true) {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (v: number) => MARGIN.left + ((v - x[0]) / (x[1] - x[0] || 1)) * plotW;
  const sy = (v: number) => MARGIN.top + plotH - ((v - y[0]) / (y[1] - y[0] || 1)) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2 - MARGIN.right / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="black"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  ];
  for (const t of ticks(y[0], y[1])) {
    if (t < y[0] || t > y[1]) continue;
    parts.push(
      `<line x1="${MARGIN.left}" y1="${sy(t)}" x2="${MARGIN.left + plotW}" y2="${sy(t)}" stroke="#e5e7eb"/>`,
      `<text x="${MARGIN.left - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  if (xTicks)
    for (const t of ticks(x[0], x[1])) {
      if (t < x[0] || t > x[1]) continue;
      parts.push(`<text x="${sx(t)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${fmt(t)}</text>`);
    }
  return { parts, sx, sy, plotW, plotH };
}

function range(values: number[], pad = 0.05): [number, number] {
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || Math.abs(max) * 0.1 || 1;
  return [min - span * pad, max + span * pad];
}

function legend(parts: string[], names: string[]) {
  names.forEach((name, i) => {
    const y = MARGIN.top + 10 + i * 20;
    const x = WIDTH - MARGIN.right + 16;
    parts.push(
      `<rect x="${x}" y="${y - 8}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${x + 18}" y="${y + 2}">${escapeXml(name)}</text>`,
    );
  });
}

/** One polyline with markers per series; a series of one point is drawn as a marker. */
export function lineChart(opts: { title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const all = opts.series.flatMap((s) => s.points);
  const x = range([0, ...all.map((p) => p[0])], 0.02);
  const { parts, sx, sy } = frame(
    opts.title,
    opts.xLabel,
    opts.yLabel,
    [Math.max(0, x[0]), x[1]],
    range(all.map((p) => p[1])),
  );
  opts.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    if (s.points.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.points.map(([px, py]) => `${sx(px).toFixed(1)},${sy(py).toFixed(1)}`).join(' ')}"/>`,
      );
    for (const [px, py] of s.points)
      parts.push(`<circle cx="${sx(px).toFixed(1)}" cy="${sy(py).toFixed(1)}" r="3.5" fill="${color}"/>`);
  });
  legend(
    parts,
    opts.series.map((s) => s.name),
  );
  return `${parts.join('\n')}\n</svg>\n`;
}

/** Labelled points. */
export function scatterChart(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  points: { x: number; y: number; label: string }[];
}): string {
  const { parts, sx, sy } = frame(
    opts.title,
    opts.xLabel,
    opts.yLabel,
    range(
      opts.points.map((p) => p.x),
      0.1,
    ),
    range(
      opts.points.map((p) => p.y),
      0.15,
    ),
  );
  opts.points.forEach((p, i) => {
    const color = PALETTE[i % PALETTE.length];
    parts.push(
      `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="5" fill="${color}"/>`,
      `<text x="${(sx(p.x) + 8).toFixed(1)}" y="${(sy(p.y) - 8).toFixed(1)}">${escapeXml(p.label)}</text>`,
    );
  });
  return `${parts.join('\n')}\n</svg>\n`;
}

/** Vertical bars with an error bar each (mean ± std). */
export function barChart(opts: {
  title: string;
  yLabel: string;
  bars: { label: string; value: number; error?: number }[];
}): string {
  const top = Math.max(...opts.bars.map((b) => b.value + (b.error ?? 0)));
  const bottom = Math.min(0, ...opts.bars.map((b) => b.value - (b.error ?? 0)));
  const { parts, sy, plotW } = frame(opts.title, '', opts.yLabel, [0, 1], [bottom, top * 1.1 || 1], false);
  const slot = plotW / opts.bars.length;
  opts.bars.forEach((b, i) => {
    const x = MARGIN.left + slot * i + slot * 0.2;
    const w = slot * 0.6;
    const color = PALETTE[i % PALETTE.length];
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${Math.min(sy(b.value), sy(0)).toFixed(1)}" width="${w.toFixed(1)}" height="${Math.abs(sy(0) - sy(b.value)).toFixed(1)}" fill="${color}"/>`,
      `<text x="${(x + w / 2).toFixed(1)}" y="${(sy(0) + 18).toFixed(1)}" text-anchor="middle">${escapeXml(b.label)}</text>`,
      `<text x="${(x + w / 2).toFixed(1)}" y="${(sy(b.value + (b.error ?? 0)) - 6).toFixed(1)}" text-anchor="middle">${fmt(b.value)}</text>`,
    );
    if (b.error)
      parts.push(
        `<line x1="${(x + w / 2).toFixed(1)}" x2="${(x + w / 2).toFixed(1)}" y1="${sy(b.value - b.error).toFixed(1)}" y2="${sy(b.value + b.error).toFixed(1)}" stroke="black"/>`,
      );
  });
  return `${parts.join('\n')}\n</svg>\n`;
}
