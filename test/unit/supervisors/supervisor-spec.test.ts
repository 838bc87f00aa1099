import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, constantBackoff, defineSupervisor, exponentialBackoff, type SupervisorSpecInput } from "../../../supervisors/index.ts";
import { codeOf, thrown } from "./support.ts";

const start = () => ({ actor: true });

const problemsOf = (input: unknown): string[] => {
  const error = thrown(() => defineSupervisor(input as SupervisorSpecInput));
  expect(codeOf(error)).toBe("ERR_SUPERVISOR_SPEC_INVALID");
  expect(error.retryable).toBe(false);
  return error.details["problems"] as string[];
};

describe("defineSupervisor", () => {
  it("fills in every default and returns frozen plain data", () => {
    const spec = defineSupervisor({ id: "dispensing", children: [{ id: "prescriber", start }] });
    expect(spec).toEqual({
      kind: "supervisor",
      id: "dispensing",
      strategy: "one_for_one",
      intensity: { maxRestarts: 3, withinMs: 5_000 },
      backoff: DEFAULT_BACKOFF,
      onFailure: "restart",
      restart: "permanent",
      shutdownMs: 5_000,
      startMs: 5_000,
      children: [{ kind: "worker", id: "prescriber", start, restart: "permanent", shutdownMs: 5_000, startMs: 5_000 }],
    });
    expect(DEFAULT_BACKOFF).toEqual({ kind: "exponential", initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2 });
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.children)).toBe(true);
    expect(Object.isFrozen(spec.children[0])).toBe(true);
    expect(Object.isFrozen(spec.intensity)).toBe(true);
  });

  it("keeps the start factory itself (it is never called while defining)", () => {
    let calls = 0;
    const factory = () => ++calls;
    const spec = defineSupervisor({ id: "s", children: [{ id: "w", start: factory }] });
    const child = spec.children[0];
    expect(child?.kind === "worker" ? child.start : undefined).toBe(factory);
    expect(calls).toBe(0);
  });

  it("takes the README's example as written", () => {
    const spec = defineSupervisor({
      id: "dispensing",
      strategy: "rest_for_one",
      intensity: { maxRestarts: 5, withinMs: 60_000 },
      backoff: exponentialBackoff({ initialMs: 100, maxMs: 10_000, jitter: 0.2 }),
      onFailure: "rollback",
      children: [
        { id: "prescriber", start, restart: "permanent" },
        { id: "pharmacist", start, restart: "transient", shutdownMs: 5_000, node: "node-b" },
      ],
    });
    expect(spec.strategy).toBe("rest_for_one");
    expect(spec.onFailure).toBe("rollback");
    expect(spec.children.map((c) => [c.id, c.restart, c.node])).toEqual([
      ["prescriber", "permanent", undefined],
      ["pharmacist", "transient", "node-b"],
    ]);
  });

  it("nests supervisors, defined or inline, and defaults their limits to the sum of their children's", () => {
    const inner = defineSupervisor({
      id: "inner",
      backoff: constantBackoff({ delayMs: 50 }),
      children: [
        { id: "a", start, shutdownMs: 1_000, startMs: 200 },
        { id: "b", start, shutdownMs: 2_000, startMs: 300 },
      ],
    });
    expect(inner.shutdownMs).toBe(3_000);
    expect(inner.startMs).toBe(500);
    const root = defineSupervisor({
      id: "root",
      strategy: "one_for_all",
      children: [
        { id: "first", start },
        inner,
        { id: "inline", restart: "transient", shutdownMs: 9_000, children: [{ id: "c", start }] },
      ],
    });
    expect(root.children.map((c) => [c.kind, c.id, c.shutdownMs, c.startMs])).toEqual([
      ["worker", "first", 5_000, 5_000],
      ["supervisor", "inner", 3_000, 500],
      ["supervisor", "inline", 9_000, 5_000],
    ]);
    expect(root.shutdownMs).toBe(5_000 + 3_000 + 9_000);
    const inline = root.children[2];
    expect(inline?.kind === "supervisor" ? inline.children.map((c) => c.id) : []).toEqual(["c"]);
    expect(Object.isFrozen(inline)).toBe(true);
  });

  it("rejects duplicate sibling ids with ERR_SUPERVISOR_SPEC_INVALID", () => {
    const problems = problemsOf({ id: "s", children: [{ id: "a", start }, { id: "b", start }, { id: "a", start }] });
    expect(problems).toEqual(['(root).children.2.id: duplicate id "a" (also at (root).children.0)']);
  });

  it("rejects an id used twice anywhere in the tree, since ids name actors in one network", () => {
    const problems = problemsOf({
      id: "root",
      children: [
        { id: "a", start },
        { id: "sub", children: [{ id: "a", start }, { id: "root", start }] },
      ],
    });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('duplicate id "a"');
    expect(problems[1]).toContain('duplicate id "root"');
  });

  it.each([
    ["a negative shutdownMs", { shutdownMs: -1 }, "children.0.shutdownMs"],
    ["a zero startMs", { startMs: 0 }, "children.0.startMs"],
    ["a fractional shutdownMs", { shutdownMs: 1.5 }, "children.0.shutdownMs"],
    ["a shutdownMs above one hour", { shutdownMs: 3_600_001 }, "children.0.shutdownMs"],
    ["an unknown restart type", { restart: "sometimes" }, "children.0.restart"],
    ["a start that is not a function", { start: "Prescriber" }, "children.0.start"],
    ["an id that is not a subject token", { id: "has.dot" }, "children.0.id"],
    ["a node that is not a subject token", { node: "node b" }, "children.0.node"],
  ])("rejects a child with %s, naming its path", (_what, override, path) => {
    const problems = problemsOf({ id: "s", children: [{ id: "w", start, ...override }] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${path.replaceAll(".", "\\.")}: `));
  });

  it.each([
    ["an unknown strategy", { strategy: "all_for_one" }, "strategy"],
    ["a negative maxRestarts", { intensity: { maxRestarts: -1, withinMs: 1_000 } }, "intensity.maxRestarts"],
    ["a zero intensity window", { intensity: { maxRestarts: 1, withinMs: 0 } }, "intensity.withinMs"],
    ["an unknown onFailure", { onFailure: "ignore" }, "onFailure"],
    ["a backoff whose ceiling is below its start", { backoff: { kind: "exponential", initialMs: 10, maxMs: 1, multiplier: 2, jitter: 0 } }, "backoff.maxMs"],
    ["an unknown option", { restartStrategy: "one_for_one" }, "(root)"],
    ["a missing id", { id: undefined }, "id"],
  ])("rejects a supervisor with %s", (_what, override, path) => {
    const problems = problemsOf({ id: "s", children: [{ id: "w", start }], ...override });
    expect(problems.some((p) => p.startsWith(`${path}: `))).toBe(true);
  });

  it("lists every problem at once, including inside nested supervisors", () => {
    const problems = problemsOf({
      id: "s",
      strategy: "sometimes",
      children: [{ id: "w", start, shutdownMs: -1 }, { id: "sub", children: [{ id: "x", start: 42 }] }],
    });
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/strategy/);
    expect(problems.join("\n")).toMatch(/children\.0\.shutdownMs/);
    expect(problems.join("\n")).toMatch(/children\.1\.children\.0\.start/);
  });

  it("rejects input that is not an object", () => {
    expect(problemsOf(null)).toHaveLength(1);
    expect(problemsOf("dispensing")).toHaveLength(1);
  });
});
