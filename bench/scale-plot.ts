/**
 * A small SVG line chart (log–log axes, side-by-side panels) for the scale report: enough for a handful of
 * series of a few points each, with no plotting library.
 */
export interface Series {
  label: string;
  color: string;
  dashed: boolean;
  points: { x: number; y: number }[];
}

export interface Panel {
  yLabel: string;
  series: Series[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  panels: Panel[];
}

const PANEL_W = 420;
const PANEL_H = 300;
const MARGIN = { left: 64, right: 16, top: 48, bottom: 96 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Powers of ten (and 2×, 5×) spanning [lo, hi], for log-axis ticks. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

function tickText(v: number): string {
  if (v >= 1000) return `${v / 1000}k`;
  if (v >= 1) return String(Math.round(v * 100) / 100);
  return String(Number(v.toPrecision(2)));
}

function panelSvg(panel: Panel, xLabel: string, offsetX: number): string {
  const pts = panel.series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  if (pts.length === 0) return '';
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const yLo = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const lx = (x: number) =>
    xHi === xLo ? 0.5 : (Math.log10(x) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo));
  const ly = (y: number) => (Math.log10(y) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo) || 1);
  const px = (x: number) => offsetX + MARGIN.left + lx(x) * PANEL_W;
  const py = (y: number) => MARGIN.top + (1 - ly(y)) * PANEL_H;
  const out: string[] = [];
  out.push(
    `<rect x="${offsetX + MARGIN.left}" y="${MARGIN.top}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#999"/>`,
  );
  for (const t of logTicks(yLo, yHi)) {
    out.push(
      `<line x1="${offsetX + MARGIN.left}" x2="${offsetX + MARGIN.left + PANEL_W}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${offsetX + MARGIN.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${tickText(t)}</text>`,
    );
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(
      `<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${MARGIN.top}" y2="${MARGIN.top + PANEL_H}" stroke="#eee"/>`,
      `<text x="${px(x).toFixed(1)}" y="${MARGIN.top + PANEL_H + 16}" text-anchor="middle">${tickText(x)}</text>`,
    );
  }
  out.push(
    `<text x="${offsetX + MARGIN.left + PANEL_W / 2}" y="${MARGIN.top + PANEL_H + 34}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="${offsetX + MARGIN.left + PANEL_W / 2}" y="${MARGIN.top - 10}" text-anchor="middle" font-weight="bold">${esc(panel.yLabel)}</text>`,
  );
  for (const s of panel.series) {
    const line = s.points.filter((p) => p.x > 0 && p.y > 0);
    if (line.length === 0) continue;
    const d = line
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`)
      .join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const p of line) {
      out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
  }
  return out.join('\n');
}

export function lineChartSvg(spec: ChartSpec): string {
  const width = spec.panels.length * (MARGIN.left + PANEL_W + MARGIN.right);
  const height = MARGIN.top + PANEL_H + MARGIN.bottom;
  const body = spec.panels.map((p, i) =>
    panelSvg(p, spec.xLabel, i * (MARGIN.left + PANEL_W + MARGIN.right)),
  );
  const legend = (spec.panels[0]?.series ?? []).map((s, i) => {
    const x = MARGIN.left + i * 190;
    const y = MARGIN.top + PANEL_H + 62;
    return [
      `<line x1="${x}" x2="${x + 28}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${x + 34}" y="${y}">${esc(s.label)}</text>`,
    ].join('\n');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(spec.title)}</text>`,
    ...body,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
