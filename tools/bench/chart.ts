/**
 * The --find-max chart as a standalone SVG: tick duration p99 (log scale, left) and server CPU
 * (% of a core, right) against the number of callers, for the real server and the baseline, with
 * issue 6's 5 ms tick line and the largest caller count that held (issue 13's criteria: every call
 * admitted, >= 99.5 % of frames, < 0.5 % of intervals > 60 ms).
 */
export interface ChartPoint {
  callers: number;
  tickP99Ms: number;
  cpuPercent: number;
  pass: boolean;
}

export interface ChartSeries {
  name: string;
  color: string;
  points: ChartPoint[];
  maxCallers: number;
}

const W = 860;
const H = 480;
const M = { left: 70, right: 70, top: 50, bottom: 60 };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function findMaxSvg(series: ChartSeries[], title: string): string {
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(100, ...all.map((p) => p.callers)) * 1.05;
  const tickValues = all.map((p) => p.tickP99Ms).filter((v) => v > 0 && Number.isFinite(v));
  const yMinLog = Math.floor(Math.log10(Math.min(0.1, ...tickValues)));
  const yMaxLog = Math.ceil(Math.log10(Math.max(10, ...tickValues)));
  const cpuMax = Math.max(100, Math.ceil(Math.max(0, ...all.map((p) => p.cpuPercent)) / 25) * 25);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number) => M.left + (v / xMax) * pw;
  const yTick = (v: number) => M.top + ph - ((Math.log10(Math.max(v, 10 ** yMinLog)) - yMinLog) / (yMaxLog - yMinLog)) * ph;
  const yCpu = (v: number) => M.top + ph - (v / cpuMax) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  // Grid and axes.
  for (let e = yMinLog; e <= yMaxLog; e++) {
    const y = yTick(10 ** e);
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${M.left - 8}" y="${y + 4}" text-anchor="end">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)}</text>`);
  }
  for (let c = 0; c <= cpuMax; c += 25) parts.push(`<text x="${W - M.right + 8}" y="${yCpu(c) + 4}">${c}%</text>`);
  const xStep = [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((step) => xMax / step <= 10) ?? 1000;
  for (let c = 0; c <= xMax; c += xStep) {
    parts.push(`<line x1="${x(c)}" x2="${x(c)}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x(c)}" y="${M.top + ph + 18}" text-anchor="middle">${c}</text>`);
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${W / 2}" y="${H - 18}" text-anchor="middle">concurrent callers</text>`);
  parts.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">tick duration p99 (ms, log) — solid</text>`);
  parts.push(`<text transform="translate(${W - 14} ${M.top + ph / 2}) rotate(90)" text-anchor="middle">server CPU (% of a core) — dashed</text>`);
  // Issue 6's 5 ms tick line (for reference: not what "held" means).
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${yTick(5)}" y2="${yTick(5)}" stroke="#c00" stroke-dasharray="2 3"/>`);
  parts.push(`<text x="${M.left + 6}" y="${yTick(5) - 5}" fill="#c00">tick p99 5 ms (issue 6)</text>`);
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.callers - b.callers);
    if (pts.length === 0) return;
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${x(p.callers)},${yTick(p.tickP99Ms)}`).join(' ')}"/>`);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="6 4" points="${pts.map((p) => `${x(p.callers)},${yCpu(p.cpuPercent)}`).join(' ')}"/>`,
    );
    for (const p of pts) {
      parts.push(`<circle cx="${x(p.callers)}" cy="${yTick(p.tickP99Ms)}" r="4" fill="${p.pass ? s.color : 'white'}" stroke="${s.color}"/>`);
      parts.push(`<rect x="${x(p.callers) - 3}" y="${yCpu(p.cpuPercent) - 3}" width="6" height="6" fill="white" stroke="${s.color}"/>`);
    }
    if (s.maxCallers > 0)
      parts.push(`<line x1="${x(s.maxCallers)}" x2="${x(s.maxCallers)}" y1="${M.top}" y2="${M.top + ph}" stroke="${s.color}" stroke-opacity="0.4"/>`);
    const ly = M.top + 16 + i * 18;
    parts.push(`<line x1="${M.left + 12}" x2="${M.left + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(
      `<text x="${M.left + 42}" y="${ly + 4}">${esc(s.name)}: ${s.maxCallers > 0 ? `${s.maxCallers} callers held` : 'no step held'} (circles: tick p99, filled where the step held; squares: CPU)</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
