/** The table and the SVG chart of `bench agents <scenario>`. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { AgentSummary } from "./agent-metrics.ts";
import type { ScenarioReport } from "./agent-scenarios.ts";
import { table } from "./report.ts";
import type { Scenario } from "./scenarios/scenario.ts";
import { barChartSvg, type BarPanel } from "./svg-chart.ts";

/** Where the chart goes without `--svg`: under `.tether/`, which git ignores. */
export const defaultSvgPath = (scenario: string): string => `.tether/bench/agents-${scenario}.svg`;

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

/** One row per agent, then what each agent is. */
export const scenarioTable = (report: ScenarioReport, scenario: Scenario): string => {
  const rows = report.summaries.map((s) => [
    s.agent,
    fixed(s.accuracy, 3),
    fixed(s.latencyP50Ms, 2),
    fixed(s.latencyP99Ms, 2),
    fixed(s.unitsPerSuccess, 1),
    fixed(s.violationsPer1k, 1),
    `${s.violations}/${s.actions + s.violations}`,
    fixed(s.accuracyStddev, 3),
    fixed(s.latencyP50Stddev, 2),
  ]);
  const head = ["agent", "accuracy", "p50 ms", "p99 ms", `${report.unit}/success`, "viol/1k", "viol/attempts", "acc sd", "p50 sd ms"];
  const roles = scenario.agents.map((a) => `  ${a.id}: ${a.role}`).join("\n");
  return `${table(head, rows)}\n${roles}\n`;
};

/** Accuracy, latency p50, units per success and violations per 1,000, one bar per agent in each. */
export const scenarioPanels = (summaries: readonly AgentSummary[], unit: string): BarPanel[] => {
  const bars = (f: (s: AgentSummary) => number) => summaries.map((s) => ({ label: s.agent, value: f(s) }));
  return [
    { metric: "accuracy", title: "accuracy", unit: "fraction correct", bars: bars((s) => s.accuracy), max: 1 },
    { metric: "latency_p50", title: "latency p50", unit: "ms", bars: bars((s) => s.latencyP50Ms) },
    { metric: "units_per_success", title: `${unit} per success`, unit: `${unit}/success`, bars: bars((s) => s.unitsPerSuccess) },
    { metric: "violations_per_1k", title: "violations", unit: "per 1,000 actions", bars: bars((s) => s.violationsPer1k) },
  ];
};

/** Writes the chart (creating the folder) and returns its absolute path. */
export const writeScenarioSvg = (report: ScenarioReport, path: string): string => {
  const title = `bench agents ${report.scenario}: ${report.runs} runs of ${report.tasks} tasks, seed ${report.seed}`;
  const absolute = resolve(path);
  mkdirSync(dirname(absolute), { recursive: true });
  writeFileSync(absolute, barChartSvg(title, scenarioPanels(report.summaries, report.unit)));
  return absolute;
};
