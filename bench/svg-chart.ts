/**
 * A small hand-written SVG bar chart (no dependency): panels side by side, one bar per label in each.
 * Used by `bench agents <scenario> --svg` for per-agent accuracy, latency and violations.
 */

export interface Bar {
  readonly label: string;
  /** Non-finite values (no data) are drawn as an empty bar labelled "n/a". */
  readonly value: number;
}

export interface BarPanel {
  /** The metric's name (a `data-metric` attribute on each bar). */
  readonly metric: string;
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
  /** The top of the scale; default the largest value (1 when every value is 0 or missing). */
  readonly max?: number;
}

const PANEL_HEIGHT = 260;
const PLOT_TOP = 48;
const PLOT_HEIGHT = 160;
const BAR_WIDTH = 36;
const BAR_GAP = 20;
const SIDE = 28;
const COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7"] as const;

/** Escapes text for XML character data and attribute values. */
export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&apos;"));

const num = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(2));

const valueText = (value: number): string => {
  if (!Number.isFinite(value)) return "n/a";
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : value.toFixed(abs >= 1 || value === 0 ? 2 : 3);
};

const panelWidth = (bars: number): number => 2 * SIDE + Math.max(1, bars) * (BAR_WIDTH + BAR_GAP) - BAR_GAP;

const panelSvg = (panel: BarPanel, x0: number): string => {
  const finite = panel.bars.map((b) => b.value).filter(Number.isFinite);
  const top = panel.max ?? Math.max(0, ...finite);
  const scale = top > 0 ? top : 1;
  const width = panelWidth(panel.bars.length);
  const baseY = PLOT_TOP + PLOT_HEIGHT;
  const parts: string[] = [
    `<g class="panel" data-metric="${escapeXml(panel.metric)}" transform="translate(${x0},0)">`,
    `<text x="${num(width / 2)}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`,
    `<text x="${num(width / 2)}" y="36" text-anchor="middle" font-size="10" fill="#555">${escapeXml(panel.unit)}, scale 0 to ${escapeXml(valueText(scale))}</text>`,
    `<line x1="${SIDE - 6}" y1="${baseY}" x2="${width - SIDE + 6}" y2="${baseY}" stroke="#333"/>`,
  ];
  panel.bars.forEach((bar, i) => {
    const x = SIDE + i * (BAR_WIDTH + BAR_GAP);
    const v = Number.isFinite(bar.value) ? Math.max(0, bar.value) : 0;
    const h = Math.min(PLOT_HEIGHT, (v / scale) * PLOT_HEIGHT);
    const colour = COLOURS[i % COLOURS.length] ?? "#4e79a7";
    const value = Number.isFinite(bar.value) ? String(bar.value) : "";
    parts.push(
      `<rect class="bar" data-metric="${escapeXml(panel.metric)}" data-label="${escapeXml(bar.label)}" data-value="${escapeXml(value)}" x="${x}" y="${num(baseY - h)}" width="${BAR_WIDTH}" height="${num(h)}" fill="${colour}"><title>${escapeXml(`${bar.label}: ${valueText(bar.value)} ${panel.unit}`)}</title></rect>`,
      `<text x="${num(x + BAR_WIDTH / 2)}" y="${num(baseY - h - 4)}" text-anchor="middle" font-size="10">${escapeXml(valueText(bar.value))}</text>`,
      `<text x="${num(x + BAR_WIDTH / 2)}" y="${baseY + 14}" text-anchor="middle" font-size="10">${escapeXml(bar.label)}</text>`,
    );
  });
  parts.push("</g>");
  return parts.join("\n");
};

/** A complete SVG document (UTF-8, with the XML declaration): a title, then the panels left to right. */
export const barChartSvg = (title: string, panels: readonly BarPanel[]): string => {
  const widths = panels.map((p) => panelWidth(p.bars.length));
  const total = Math.max(200, widths.reduce((s, w) => s + w + 16, 0));
  const height = PANEL_HEIGHT + 24;
  let x = 8;
  const body = panels.map((p, i) => {
    const g = panelSvg(p, x);
    x += (widths[i] ?? 0) + 16;
    return g;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${height}" viewBox="0 0 ${total} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${total}" height="${height}" fill="#fff"/>`,
    `<g transform="translate(0,24)">`,
    ...body,
    `</g>`,
    `<text x="8" y="16" font-weight="bold">${escapeXml(title)}</text>`,
    `</svg>`,
    "",
  ].join("\n");
};
