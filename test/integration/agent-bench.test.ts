import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { networkSubjects } from "../../protocols/index.ts";
import { PROFILE_VIOLATION_ACT, StoredEctRecord, rollUpUsage } from "../../runtime/index.ts";
import { agentSeed, runScenario, runSeed, runWorkload } from "../../bench/agent-scenarios.ts";
import { trading, type TraderConfig } from "../../bench/scenarios/trading.ts";
import { triage } from "../../bench/scenarios/triage.ts";

interface Independent {
  /** Per agent: tokens and refused records by the runtime's own roll-up (`tether usage`), and violation evidence. */
  readonly byAgent: Map<string, { tokens: number; actionEcts: number; violationEcts: number }>;
}

/** Reads one run's ECT store with a plain NATS client, outside the harness, and rolls it up the way `tether usage` does. */
const readIndependently = async (serverUrl: string, network: string): Promise<Independent> => {
  const nc = await connect({ servers: serverUrl });
  try {
    const kv = await new Kvm(nc).open(networkSubjects(network).ectBucket());
    const records: StoredEctRecord[] = [];
    for await (const key of await kv.keys("ect.>")) {
      const entry = await kv.get(key);
      if (entry !== null && entry.operation === "PUT") records.push(StoredEctRecord.parse(entry.json()));
    }
    const usage = rollUpUsage(records.map((r) => ({ token: r.token, network })), "agent");
    const byAgent = new Map<string, { tokens: number; actionEcts: number; violationEcts: number }>();
    for (const row of usage) {
      const mine = records.filter((r) => r.actor === row.key);
      const violationEcts = mine.filter((r) => r.exec_act === PROFILE_VIOLATION_ACT).length;
      byAgent.set(row.key, { tokens: row.units["tokens"] ?? 0, actionEcts: mine.length - violationEcts, violationEcts });
      // every refused record of an agent here is its violation evidence (no quotas are configured)
      expect(row.refused).toBe(violationEcts);
    }
    return { byAgent };
  } finally {
    await nc.close();
  }
};

/** The drifter's blocked orders, worked out from the seeded workload: after its update, every tick outside its band. */
const expectedDrifterBlocks = (seed: number, run: number, tasks: number): number => {
  const s = runSeed(seed, run);
  const drifter = trading.agents.find((a) => a.id === "drifter");
  const [config] = (drifter?.args?.({ seed: agentSeed(s, "drifter"), tasks }) ?? []) as [TraderConfig];
  return runWorkload(trading, s, tasks).filter((t) => {
    const m = t.message as { seq: number; price: number; average: number };
    return m.seq >= (config.driftFrom ?? Infinity) && Math.abs(m.price - m.average) > config.band;
  }).length;
};

describe("bench agents <scenario>", () => {
  it("reports per agent what the runtime recorded: violation evidence, action ECTs and metered units", async () => {
    const seed = 5;
    const tasks = 8;
    const independent: Independent[] = [];
    const report = await runScenario(trading, {
      runs: 2,
      tasks,
      seed,
      afterRun: async ({ network, serverUrl }) => {
        independent.push(await readIndependently(serverUrl, network));
      },
    });

    // structure: one summary per agent in the scenario's order, 15 metrics each, every line labelled
    expect(report).toMatchObject({ scenario: "trading", unit: "tokens", runs: 2, tasks, seed });
    expect(report.summaries.map((s) => s.agent)).toEqual(["steady", "cautious", "momentum", "drifter"]);
    expect(report.metrics).toHaveLength(4 * 15);
    for (const m of report.metrics) expect(m).toMatchObject({ suite: "agents", scenario: "trading", target: null, met: null });
    for (const s of report.summaries) {
      expect(s).toMatchObject({ runs: 2, tasks: 2 * tasks });
      expect(s.accuracy).toBeGreaterThanOrEqual(0);
      expect(s.accuracy).toBeLessThanOrEqual(1);
      expect(s.latencyP99Ms).toBeGreaterThanOrEqual(s.latencyP50Ms);
      expect(s.perRun.accuracy).toHaveLength(2);
    }
    expect(report.observations.every((run) => run.every((o) => o.latenciesMs.length === tasks))).toBe(true);

    // violations: the evidence ECTs, which match the node's profile-violation events and the orders the drifter placed out of bounds
    expect(report.notes).toEqual([]);
    const blocks = [0, 1].map((r) => expectedDrifterBlocks(seed, r, tasks));
    expect(blocks.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    report.observations.forEach((run, r) => {
      for (const o of run) {
        const seen = independent[r]?.byAgent.get(o.agent);
        expect(o.violations).toBe(seen?.violationEcts ?? 0);
        expect(report.violationEvents[r]?.[o.agent] ?? 0).toBe(o.violations);
        expect(o.actions).toBe(seen?.actionEcts);
        expect(o.units).toBe(seen?.tokens);
        expect(o.units).toBeGreaterThan(0);
        // every task ran `analyse` at least; the drifter's blocked orders left no action ECT
        expect(o.actions).toBeGreaterThanOrEqual(tasks);
      }
      const drifter = run.find((o) => o.agent === "drifter");
      expect(drifter?.violations).toBe(blocks[r]);
      for (const o of run) if (o.agent !== "drifter") expect(o.violations).toBe(0);
    });
    const drifter = report.summaries.find((s) => s.agent === "drifter");
    expect(drifter?.violationsPer1k).toBeCloseTo((1000 * (drifter?.violations ?? 0)) / ((drifter?.actions ?? 0) + (drifter?.violations ?? 0)), 9);
    expect(report.metrics.find((m) => m.agent === "drifter" && m.metric === "violations")?.value).toBe(blocks[0]! + blocks[1]!);

    // the same seed repeats the same outcomes and records (latency is measured, so it may differ)
    const again = await runScenario(trading, { runs: 1, tasks, seed });
    for (const [i, o] of (again.observations[0] ?? []).entries()) {
      const first = report.observations[0]?.[i];
      expect({ agent: o.agent, correct: o.correct, actions: o.actions, violations: o.violations, units: o.units }).toEqual({
        agent: first?.agent,
        correct: first?.correct,
        actions: first?.actions,
        violations: first?.violations,
        units: first?.units,
      });
    }
  });

  it("meters each triage agent's tokens within its model's range and counts the noisy agent's blocked pages", async () => {
    const tasks = 6;
    const independent: Independent[] = [];
    const report = await runScenario(triage, { runs: 1, tasks, seed: 3, afterRun: async ({ network, serverUrl }) => void independent.push(await readIndependently(serverUrl, network)) });
    const run = report.observations[0] ?? [];
    expect(run.map((o) => o.agent)).toEqual(["careful", "quick", "noisy", "slow"]);
    const ranges: Record<string, [number, number]> = { careful: [350, 550], quick: [80, 160], noisy: [200, 300], slow: [1_000, 1_600] };
    for (const o of run) {
      // one classify action per case; pages are blocked, so they never become actions
      expect(o.actions).toBe(tasks);
      const [lo, hi] = ranges[o.agent] ?? [0, 0];
      expect(o.units).toBeGreaterThanOrEqual(lo * tasks);
      expect(o.units).toBeLessThanOrEqual(hi * tasks);
      expect(o.units).toBe(independent[0]?.byAgent.get(o.agent)?.tokens);
      expect(o.violations).toBe(independent[0]?.byAgent.get(o.agent)?.violationEcts ?? 0);
      if (o.agent !== "noisy") expect(o.violations).toBe(0);
    }
    // seed 3 makes the noisy agent unsure (and page) at least once in six cases
    const noisy = run.find((o) => o.agent === "noisy");
    expect(noisy?.violations).toBeGreaterThan(0);
    expect(report.violationEvents[0]?.["noisy"]).toBe(noisy?.violations);
    expect(report.notes).toEqual([]);
  });
});
