import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { runWorkload } from "../../../bench/agent-scenarios.ts";
import { SCENARIOS, findScenario, scenarioNames } from "../../../bench/scenarios/catalogue.ts";
import { mixSeed, seededRandom } from "../../../bench/scenarios/random.ts";
import { expectedDecision, trading } from "../../../bench/scenarios/trading.ts";
import { severityOf, triage } from "../../../bench/scenarios/triage.ts";

describe("the scenario catalogue", () => {
  it("lists triage and trading", () => {
    expect(scenarioNames()).toEqual(["triage", "trading"]);
    expect(findScenario("trading")).toBe(trading);
  });

  it("refuses an unknown scenario with an error naming the ones that exist", () => {
    expect(() => findScenario("chess")).toThrow(InvalidArgumentError);
    expect(() => findScenario("chess")).toThrow(/unknown scenario "chess": available scenarios are triage, trading/);
  });
});

describe("seeded randomness", () => {
  it("repeats for a seed and differs between seeds", () => {
    const draw = (seed: number) => Array.from({ length: 5 }, seededRandom(seed));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(mixSeed(1, 0)).not.toBe(mixSeed(1, 1));
    expect(mixSeed(1, "careful")).toBe(mixSeed(1, "careful"));
  });
});

describe.each([...SCENARIOS.values()])("scenario $name", (scenario) => {
  it("gives the same tasks for the same seed and other tasks for another", () => {
    const a = runWorkload(scenario, 11, 20);
    expect(a).toHaveLength(20);
    expect(runWorkload(scenario, 11, 20)).toEqual(a);
    expect(runWorkload(scenario, 12, 20)).not.toEqual(a);
    expect(new Set(a.map((t) => t.id)).size).toBe(20);
  });

  it("has distinct agents with descriptions", () => {
    expect(new Set(scenario.agents.map((a) => a.id)).size).toBe(scenario.agents.length);
    expect(scenario.agents.length).toBeGreaterThanOrEqual(3);
    for (const a of scenario.agents) expect(a.role.length).toBeGreaterThan(0);
  });

  it("scores an error reply as wrong", () => {
    const [task] = runWorkload(scenario, 1, 1);
    expect(scenario.score(task!, { ok: false, code: "ERR_ASK_TIMEOUT", message: "late" })).toBe(false);
  });
});

describe("triage", () => {
  it("labels by error rate and users hit", () => {
    expect(severityOf(0.3, 5_000)).toBe("critical");
    expect(severityOf(0.3, 50)).toBe("high");
    expect(severityOf(0.01, 150)).toBe("high");
    expect(severityOf(0.01, 50)).toBe("low");
  });

  it("scores the label against the truth, and nothing else", () => {
    const task = { id: "i", message: {}, expected: "high" };
    expect(triage.score(task, { ok: true, value: { label: "high" } })).toBe(true);
    expect(triage.score(task, { ok: true, value: { label: "low" } })).toBe(false);
    expect(triage.score(task, { ok: true, value: { label: "high", extra: 1 } })).toBe(false);
  });

  it("keeps the truth on the true values while agents see measured ones (some labels differ)", () => {
    const tasks = runWorkload(triage, 3, 400);
    const measured = tasks.filter((t) => {
      const m = t.message as { errorRate: number; users: number };
      return severityOf(m.errorRate, m.users) !== t.expected;
    });
    expect(measured.length).toBeGreaterThan(0);
    expect(measured.length).toBeLessThan(tasks.length / 4);
    expect(new Set(tasks.map((t) => t.expected))).toEqual(new Set(["low", "high", "critical"]));
  });
});

describe("trading", () => {
  it("expects buy below the fair value, sell above it, hold near it", () => {
    expect(expectedDecision(98, 100)).toBe("buy");
    expect(expectedDecision(102, 100)).toBe("sell");
    expect(expectedDecision(100.5, 100)).toBe("hold");
  });

  it("counts a buy or sell as right only when the order was placed", () => {
    const task = { id: "t", message: {}, expected: "buy" };
    expect(trading.score(task, { ok: true, value: { decision: "buy", qty: 20, executed: true } })).toBe(true);
    expect(trading.score(task, { ok: true, value: { decision: "buy", qty: 300, executed: false } })).toBe(false);
    expect(trading.score(task, { ok: true, value: { decision: "sell", qty: 20, executed: true } })).toBe(false);
    const hold = { ...task, expected: "hold" };
    expect(trading.score(hold, { ok: true, value: { decision: "hold", qty: 0, executed: false } })).toBe(true);
  });

  it("gives the drifter its model update between 40% and 60% of the run", () => {
    const drifter = trading.agents.find((a) => a.id === "drifter");
    for (const seed of [1, 2, 3, 4, 5]) {
      const [config] = drifter?.args?.({ seed, tasks: 100 }) ?? [];
      const from = (config as { driftFrom: number }).driftFrom;
      expect(from).toBeGreaterThanOrEqual(40);
      expect(from).toBeLessThan(60);
    }
  });
});
