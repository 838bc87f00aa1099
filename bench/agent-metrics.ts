/**
 * The metrics of `bench agents <scenario>`, computed from what one run observed per agent: pure
 * functions, so they are unit-tested without a server. Where the figures come from is the harness's
 * job (`agent-scenarios.ts`): latencies are measured by the caller, actions, violations and units are
 * read from the runtime's ECT records.
 */

/** What one run recorded for one agent. */
export interface AgentRunObservation {
  readonly agent: string;
  readonly tasks: number;
  /** Tasks whose outcome the scenario scored correct. */
  readonly correct: number;
  /** Time from asking the agent to its reply (or error), per task, in ms. */
  readonly latenciesMs: readonly number[];
  /** Action ECTs the runtime minted for the agent (every action that ran, whatever its outcome). */
  readonly actions: number;
  /** Violation evidence ECTs the runtime minted for the agent (`tether.profile.violation`). */
  readonly violations: number;
  /** The scenario's unit, metered by the runtime (`ext["dev.tether.usage"].units`), summed over the agent's action ECTs. */
  readonly units: number;
}

/** One agent over all runs. */
export interface AgentSummary {
  readonly agent: string;
  readonly runs: number;
  readonly tasks: number;
  readonly correct: number;
  readonly actions: number;
  readonly violations: number;
  readonly units: number;
  /** correct / tasks over all runs. */
  readonly accuracy: number;
  /** Nearest-rank percentiles of every task latency of every run. */
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** units / correct: what one correct outcome cost (NaN when none was correct). */
  readonly unitsPerSuccess: number;
  /** 1000 × violations / attempted actions (actions that ran + violations). */
  readonly violationsPer1k: number;
  /** Sample variance (n − 1) across runs of each run's accuracy, and its square root (NaN for one run). */
  readonly accuracyVariance: number;
  readonly accuracyStddev: number;
  /** Sample variance across runs of each run's latency p50 (ms²), and its square root (ms). */
  readonly latencyP50Variance: number;
  readonly latencyP50Stddev: number;
  readonly perRun: { readonly accuracy: readonly number[]; readonly latencyP50Ms: readonly number[] };
}

/** Nearest-rank percentile (the smallest value with at least p% of the values at or below it); NaN when empty. */
export const percentile = (values: readonly number[], p: number): number => {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1] ?? Number.NaN;
};

export const mean = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length);

/** Sample variance (divides by n − 1: runs are a sample of what the agent would do); NaN below two values. */
export const variance = (values: readonly number[]): number => {
  if (values.length < 2) return Number.NaN;
  const m = mean(values);
  return values.reduce((s, v) => s + (v - m) ** 2, 0) / (values.length - 1);
};

export const stddev = (values: readonly number[]): number => Math.sqrt(variance(values));

/** Fraction of correct outcomes; NaN without tasks. */
export const accuracy = (correct: number, tasks: number): number => (tasks === 0 ? Number.NaN : correct / tasks);

/** Metered units per correct outcome; NaN when nothing was correct (the cost of success is unknown, not infinite). */
export const unitsPerSuccess = (units: number, successes: number): number => (successes === 0 ? Number.NaN : units / successes);

/**
 * Violations per 1,000 attempted actions. A blocked action leaves only its violation evidence (no action
 * ECT), an action that ran leaves its ECT, so attempted = actions + violations. (A metered overrun of
 * `maxUnits` is recorded after its action ran and counts in both; the shipped scenarios have none.)
 */
export const violationsPer1k = (violations: number, actions: number): number => {
  const attempted = actions + violations;
  return attempted === 0 ? Number.NaN : (1000 * violations) / attempted;
};

/**
 * Per-agent summaries from the observations of every run (`runs[r]` lists the agents of run r). Agents
 * keep the order of their first appearance.
 */
export const summarise = (runs: readonly (readonly AgentRunObservation[])[]): AgentSummary[] => {
  const byAgent = new Map<string, AgentRunObservation[]>();
  for (const run of runs) {
    for (const o of run) {
      const list = byAgent.get(o.agent) ?? [];
      list.push(o);
      byAgent.set(o.agent, list);
    }
  }
  return [...byAgent].map(([agent, obs]) => {
    const sum = (f: (o: AgentRunObservation) => number) => obs.reduce((s, o) => s + f(o), 0);
    const tasks = sum((o) => o.tasks);
    const correct = sum((o) => o.correct);
    const actions = sum((o) => o.actions);
    const violations = sum((o) => o.violations);
    const units = sum((o) => o.units);
    const latencies = obs.flatMap((o) => o.latenciesMs);
    const runAccuracy = obs.map((o) => accuracy(o.correct, o.tasks));
    const runP50 = obs.map((o) => percentile(o.latenciesMs, 50));
    return {
      agent,
      runs: obs.length,
      tasks,
      correct,
      actions,
      violations,
      units,
      accuracy: accuracy(correct, tasks),
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      unitsPerSuccess: unitsPerSuccess(units, correct),
      violationsPer1k: violationsPer1k(violations, actions),
      accuracyVariance: variance(runAccuracy),
      accuracyStddev: stddev(runAccuracy),
      latencyP50Variance: variance(runP50),
      latencyP50Stddev: stddev(runP50),
      perRun: { accuracy: runAccuracy, latencyP50Ms: runP50 },
    };
  });
};

/** One JSON line of `bench agents <scenario> --json`: a `valued` metric of `bench core` plus scenario and agent. */
export interface AgentMetric {
  readonly suite: "agents";
  readonly scenario: string;
  readonly agent: string;
  readonly metric: string;
  readonly unit: string;
  /** NaN (no tasks, no success, one run) is written as null. */
  readonly value: number;
  readonly target: null;
  readonly met: null;
}

/** Six significant digits: enough for a variance of 0.0001 and a latency of 12.3456 ms alike. */
const significant = (value: number): number => (Number.isFinite(value) ? Number(value.toPrecision(6)) : value);

/** The metrics of one agent, in a fixed order (the JSON lines and the table read these). */
export const agentMetrics = (scenario: string, unit: string, s: AgentSummary): AgentMetric[] => {
  const m = (metric: string, metricUnit: string, value: number): AgentMetric => ({
    suite: "agents",
    scenario,
    agent: s.agent,
    metric,
    unit: metricUnit,
    value: significant(value),
    target: null,
    met: null,
  });
  return [
    m("accuracy", "ratio", s.accuracy),
    m("latency_p50", "ms", s.latencyP50Ms),
    m("latency_p99", "ms", s.latencyP99Ms),
    m("units_per_success", `${unit}/success`, s.unitsPerSuccess),
    m("violations_per_1k", "violations/1k actions", s.violationsPer1k),
    m("accuracy_variance", "ratio^2", s.accuracyVariance),
    m("accuracy_stddev", "ratio", s.accuracyStddev),
    m("latency_p50_variance", "ms^2", s.latencyP50Variance),
    m("latency_p50_stddev", "ms", s.latencyP50Stddev),
    m("runs", "runs", s.runs),
    m("tasks", "tasks", s.tasks),
    m("correct", "tasks", s.correct),
    m("actions", "actions", s.actions),
    m("violations", "violations", s.violations),
    m("units", unit, s.units),
  ];
};
