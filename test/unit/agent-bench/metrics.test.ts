import { describe, expect, it } from "vitest";
import { TETHER_EXT_PREFIX, mintUnsignedEct } from "../../../protocols/index.ts";
import { PROFILE_VIOLATION_ACT, type StoredEctRecord } from "../../../runtime/index.ts";
import {
  accuracy,
  agentMetrics,
  percentile,
  stddev,
  summarise,
  unitsPerSuccess,
  variance,
  violationsPer1k,
  type AgentRunObservation,
} from "../../../bench/agent-metrics.ts";
import { conductOf } from "../../../bench/agent-scenarios.ts";

describe("percentile", () => {
  const ten = [7, 3, 10, 1, 9, 2, 8, 4, 6, 5];

  it("is the nearest rank: the smallest value with at least p% at or below it", () => {
    expect(percentile(ten, 50)).toBe(5);
    expect(percentile(ten, 90)).toBe(9);
    expect(percentile(ten, 99)).toBe(10);
    expect(percentile(ten, 100)).toBe(10);
    expect(percentile(ten, 1)).toBe(1);
    expect(percentile([42], 99)).toBe(42);
  });

  it("does not reorder its input", () => {
    const input = [3, 1, 2];
    percentile(input, 50);
    expect(input).toEqual([3, 1, 2]);
  });

  it("is NaN for no values and refuses a percentile outside (0, 100]", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe("variance and stddev", () => {
  it("are the sample figures (n − 1)", () => {
    // mean 5, squared deviations sum to 32, over 7
    expect(variance([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(32 / 7, 12);
    expect(stddev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(variance([0.5, 0.5, 0.5])).toBe(0);
  });

  it("are NaN below two runs (no spread can be measured)", () => {
    expect(variance([0.9])).toBeNaN();
    expect(stddev([])).toBeNaN();
  });
});

describe("accuracy, units per success, violations per 1,000", () => {
  it("accuracy is correct / tasks", () => {
    expect(accuracy(3, 4)).toBe(0.75);
    expect(accuracy(0, 0)).toBeNaN();
  });

  it("units per success divides every metered unit by the correct outcomes only", () => {
    expect(unitsPerSuccess(1_000, 4)).toBe(250);
    expect(unitsPerSuccess(1_000, 0)).toBeNaN();
  });

  it("violations per 1,000 counts blocked attempts with the actions that ran", () => {
    // 17 actions ran, 3 were blocked: 3 of 20 attempts
    expect(violationsPer1k(3, 17)).toBe(150);
    expect(violationsPer1k(0, 40)).toBe(0);
    expect(violationsPer1k(0, 0)).toBeNaN();
  });
});

const obs = (agent: string, o: Partial<AgentRunObservation>): AgentRunObservation => ({
  agent,
  tasks: 4,
  correct: 0,
  latenciesMs: [],
  actions: 0,
  violations: 0,
  units: 0,
  ...o,
});

describe("summarise", () => {
  const runs = [
    [obs("a", { correct: 4, latenciesMs: [1, 2, 3, 4], actions: 4, units: 400 }), obs("b", { correct: 1, latenciesMs: [10, 20, 30, 40], actions: 3, violations: 1, units: 90 })],
    [obs("a", { correct: 2, latenciesMs: [5, 6, 7, 8], actions: 4, units: 440 }), obs("b", { correct: 3, latenciesMs: [10, 10, 10, 50], actions: 2, violations: 2, units: 60 })],
  ];
  const [a, b] = summarise(runs);

  it("pools tasks, outcomes and records over the runs, per agent, in order", () => {
    expect(a?.agent).toBe("a");
    expect(b?.agent).toBe("b");
    expect(a).toMatchObject({ runs: 2, tasks: 8, correct: 6, actions: 8, violations: 0, units: 840 });
    expect(a?.accuracy).toBe(0.75);
    expect(a?.unitsPerSuccess).toBe(140);
    expect(a?.violationsPer1k).toBe(0);
    expect(b?.accuracy).toBe(0.5);
    expect(b?.unitsPerSuccess).toBe(37.5);
    // 3 violations over 5 actions that ran + 3 blocked
    expect(b?.violationsPer1k).toBe(375);
  });

  it("takes latency percentiles over every task of every run", () => {
    expect(a?.latencyP50Ms).toBe(4);
    expect(a?.latencyP99Ms).toBe(8);
    expect(b?.latencyP50Ms).toBe(10);
    expect(b?.latencyP99Ms).toBe(50);
  });

  it("measures consistency as the variance of each run's accuracy and latency p50", () => {
    expect(a?.perRun).toEqual({ accuracy: [1, 0.5], latencyP50Ms: [2, 6] });
    expect(a?.accuracyVariance).toBeCloseTo(0.125, 12);
    expect(a?.accuracyStddev).toBeCloseTo(Math.sqrt(0.125), 12);
    expect(a?.latencyP50Variance).toBe(8);
    expect(b?.perRun.latencyP50Ms).toEqual([20, 10]);
  });
});

describe("agentMetrics", () => {
  const [summary] = summarise([[obs("careful", { correct: 3, latenciesMs: [1, 2, 3, 4], actions: 4, units: 1234.5678 })]]);
  const metrics = agentMetrics("triage", "tokens", summary!);

  it("writes one record per metric with suite, scenario, agent, metric, unit and value, as bench core does", () => {
    expect(metrics.map((m) => m.metric)).toEqual([
      "accuracy",
      "latency_p50",
      "latency_p99",
      "units_per_success",
      "violations_per_1k",
      "accuracy_variance",
      "accuracy_stddev",
      "latency_p50_variance",
      "latency_p50_stddev",
      "runs",
      "tasks",
      "correct",
      "actions",
      "violations",
      "units",
    ]);
    for (const m of metrics) {
      expect(Object.keys(m)).toEqual(["suite", "scenario", "agent", "metric", "unit", "value", "target", "met"]);
      expect(m).toMatchObject({ suite: "agents", scenario: "triage", agent: "careful", target: null, met: null });
    }
    expect(metrics.find((m) => m.metric === "units_per_success")).toMatchObject({ unit: "tokens/success", value: 411.523 });
  });

  it("writes what cannot be measured (one run's variance) as null in JSON", () => {
    const line = JSON.parse(JSON.stringify(metrics.find((m) => m.metric === "accuracy_variance"))) as { value: unknown };
    expect(line.value).toBeNull();
  });
});

describe("conductOf", () => {
  let n = 0;
  const record = (actor: string | undefined, act: string, usage: Record<string, unknown>): StoredEctRecord => {
    const jti = `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
    const token = mintUnsignedEct({
      iss: `tether://default/${actor ?? "x"}`,
      aud: ["tether://default"],
      jti,
      exec_act: act,
      par: [],
      ext: { [`${TETHER_EXT_PREFIX}usage`]: usage },
    });
    return { jti, iat: 1, par: [], iss: "x", exec_act: act, level: "L1", token, ...(actor === undefined ? {} : { actor }) };
  };

  it("counts an actor's action ECTs, its violation evidence and the unit metered into each action", () => {
    const conduct = conductOf(
      [
        record("a", "classify", { wallMs: 3, units: { tokens: 120 } }),
        record("a", "classify", { wallMs: 3, units: { tokens: 80, usd: 5 } }),
        record("a", PROFILE_VIOLATION_ACT, {}),
        record("a", "tether.override.ack", {}),
        record("b", "trade", { wallMs: 1 }),
        record(undefined, "classify", { units: { tokens: 999 } }),
      ],
      "tokens",
    );
    expect(conduct.get("a")).toEqual({ actions: 2, violations: 1, units: 200 });
    expect(conduct.get("b")).toEqual({ actions: 1, violations: 0, units: 0 });
    expect(conduct.size).toBe(2);
  });
});
