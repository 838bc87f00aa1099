/** A goal on a ratio or a value: `>= 0.7`, `<= 4096`. */
export interface Target {
  readonly op: ">=" | "<=";
  readonly value: number;
}

/**
 * One metric compared between Tether and a baseline measured in the same run. The baseline's figure
 * sits under the baseline's name: `raw` (raw NATS, the default) or a peer such as `moleculer`.
 */
export type ComparedMetric<B extends string = "raw"> = {
  readonly suite: string;
  readonly metric: string;
  readonly unit: string;
  readonly tether: number;
  /** Always tether / baseline: above 1 is better for throughput, below 1 is better for latency, CPU and memory. */
  readonly ratio: number;
  readonly target: string | null;
  readonly met: boolean | null;
} & { readonly [K in B]: number };

/** One absolute measurement (scale suite), with its goal when it has one. */
export interface ValueMetric {
  readonly suite: string;
  readonly metric: string;
  readonly unit: string;
  readonly value: number;
  readonly target: string | null;
  readonly met: boolean | null;
}

const targetText = (target: Target | undefined): string | null => (target === undefined ? null : `${target.op} ${target.value}`);

const meets = (target: Target | undefined, value: number): boolean | null => {
  if (target === undefined) return null;
  if (!Number.isFinite(value)) return false;
  return target.op === ">=" ? value >= target.value : value <= target.value;
};

/** A `compared` for another baseline: the baseline's figure is written under `baseline`. */
export const comparedWith =
  <B extends string>(baseline: B) =>
  (suite: string, metric: string, unit: string, tether: number, other: number, target?: Target): ComparedMetric<B> => {
    const ratio = round(tether / other, 3);
    // key order is the JSON order: suite, metric, unit, tether, <baseline>, ratio, target, met
    return {
      suite,
      metric,
      unit,
      tether: round(tether, 2),
      [baseline]: round(other, 2),
      ratio,
      target: targetText(target),
      met: meets(target, ratio),
    } as ComparedMetric<B>;
  };

export const compared = comparedWith("raw");

export const valued = (suite: string, metric: string, unit: string, value: number, target?: Target): ValueMetric => ({
  suite,
  metric,
  unit,
  value: round(value, 2),
  target: targetText(target),
  met: meets(target, value),
});

const round = (value: number, digits: number): number => {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** One JSON object per line (machine-readable; stdout). */
export const jsonLines = (metrics: readonly object[]): string =>
  metrics.map((m) => JSON.stringify(m)).join("\n") + "\n";

const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
};

const metText = (met: boolean | null): string => (met === null ? "" : met ? "yes" : "NO");

/** A plain-text table with right-aligned numbers. */
export const table = (header: readonly string[], rows: readonly (readonly string[])[]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n") + "\n";
};

export const comparedTable = <B extends string = "raw">(metrics: readonly ComparedMetric<B>[], baseline: B = "raw" as B): string =>
  table(
    ["metric", "unit", "tether", baseline, "ratio", "target", "met"],
    metrics.map((m) => [m.metric, m.unit, fmt(m.tether), fmt(m[baseline]), m.ratio.toFixed(2), m.target ?? "", metText(m.met)]),
  );

export const valueTable = (metrics: readonly ValueMetric[]): string =>
  table(
    ["metric", "unit", "value", "target", "met"],
    metrics.map((m) => [m.metric, m.unit, fmt(m.value), m.target ?? "", metText(m.met)]),
  );

/** Progress and diagnostics go to stderr so that `--json` output on stdout stays machine-readable. */
export const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};
