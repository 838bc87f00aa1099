import { describe, expect, it } from "vitest";
import { scenarioPanels } from "../../../bench/agent-report.ts";
import { summarise } from "../../../bench/agent-metrics.ts";
import { barChartSvg, escapeXml } from "../../../bench/svg-chart.ts";

/**
 * A strict well-formedness check for the subset of XML the writer produces: one declaration, balanced
 * elements under one root, double-quoted attributes, no raw `<` or stray `&` in text or attributes.
 * Returns the problems found (none for a valid document).
 */
const xmlProblems = (doc: string): string[] => {
  const problems: string[] = [];
  const body = doc.replace(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n/, "");
  if (body === doc) problems.push("no XML declaration");
  const stack: string[] = [];
  let roots = 0;
  for (const token of body.match(/<[^>]*>|[^<]+/g) ?? []) {
    if (!token.startsWith("<")) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(token)) problems.push(`bare & in text ${JSON.stringify(token)}`);
      if (stack.length === 0 && token.trim() !== "") problems.push(`text outside the root: ${JSON.stringify(token)}`);
      continue;
    }
    const close = /^<\/([A-Za-z][\w:-]*)\s*>$/.exec(token);
    if (close !== null) {
      const open = stack.pop();
      if (open !== close[1]) problems.push(`</${close[1]}> closes <${open ?? "nothing"}>`);
      continue;
    }
    const tag = /^<([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/.exec(token);
    if (tag === null) {
      problems.push(`malformed tag ${token}`);
      continue;
    }
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(tag[2] ?? "")) problems.push(`bare & in attributes of ${token}`);
    const names = [...(tag[2] ?? "").matchAll(/([\w:-]+)="/g)].map((m) => m[1]);
    if (new Set(names).size !== names.length) problems.push(`repeated attribute in ${token}`);
    if (stack.length === 0) roots++;
    if (tag[3] !== "/") stack.push(tag[1] as string);
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(" > ")}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
};

const bars = (svg: string) =>
  [...svg.matchAll(/<rect class="bar" data-metric="([^"]*)" data-label="([^"]*)" data-value="([^"]*)" x="[^"]*" y="([^"]*)" width="[^"]*" height="([^"]*)"/g)].map((m) => ({
    metric: m[1],
    label: m[2],
    value: m[3],
    y: Number(m[4]),
    height: Number(m[5]),
  }));

describe("barChartSvg", () => {
  it("writes a well-formed SVG document (the checker itself catches broken ones)", () => {
    const svg = barChartSvg("t", [{ metric: "m", title: "m", unit: "u", bars: [{ label: "a", value: 1 }] }]);
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(xmlProblems(svg.replace("</g>", ""))).not.toEqual([]);
    expect(xmlProblems(svg.replace("<title>t</title>", "<title>a & b</title>"))).not.toEqual([]);
  });

  it("escapes labels and titles, so hostile names cannot break the document", () => {
    const label = `<script>"&'`;
    const svg = barChartSvg(`a < b & "c"`, [{ metric: "x&y", title: "<t>", unit: "a&b", bars: [{ label, value: 2 }] }]);
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).not.toContain("<script>");
    expect(bars(svg)[0]?.label).toBe(escapeXml(label));
  });

  it("draws bars in proportion to the panel's scale, and a missing value as an empty bar marked n/a", () => {
    const svg = barChartSvg("t", [
      { metric: "accuracy", title: "accuracy", unit: "ratio", max: 1, bars: [{ label: "a", value: 1 }, { label: "b", value: 0.25 }, { label: "c", value: Number.NaN }] },
    ]);
    const [a, b, c] = bars(svg);
    expect(a?.height).toBe(160);
    expect(b?.height).toBe(40);
    expect(c).toMatchObject({ height: 0, value: "" });
    expect((a?.y ?? 0) + (a?.height ?? 0)).toBe((b?.y ?? 0) + (b?.height ?? 0));
    expect(svg).toContain(">n/a</text>");
  });
});

describe("the agents chart", () => {
  const summaries = summarise([
    ["careful", "quick", "noisy"].map((agent, i) => ({ agent, tasks: 4, correct: 4 - i, latenciesMs: [1 + i, 2 + i], actions: 4, violations: i, units: 100 * (i + 1) })),
  ]);
  const panels = scenarioPanels(summaries, "tokens");
  const svg = barChartSvg("agents", panels);

  it("has one bar per agent and metric: accuracy, latency, units per success, violations", () => {
    expect(xmlProblems(svg)).toEqual([]);
    const drawn = bars(svg);
    expect(drawn).toHaveLength(3 * 4);
    for (const metric of ["accuracy", "latency_p50", "units_per_success", "violations_per_1k"]) {
      expect(drawn.filter((b) => b.metric === metric).map((b) => b.label)).toEqual(["careful", "quick", "noisy"]);
    }
    const violations = drawn.filter((b) => b.metric === "violations_per_1k").map((b) => Number(b.value));
    expect(violations).toEqual(summaries.map((s) => s.violationsPer1k));
  });
});
