import { describe, expect, it } from "vitest";
import { defineSupervisor, planRestart, type ExitReason, type Strategy } from "../../../supervisors/index.ts";
import { codeOf, thrown } from "./support.ts";

const start = () => undefined;

/** Five children in start order: a permanent, b transient, c temporary, d permanent, e transient. */
const treeWith = (strategy: Strategy) =>
  defineSupervisor({
    id: "sup",
    strategy,
    children: [
      { id: "a", start, restart: "permanent" },
      { id: "b", start, restart: "transient" },
      { id: "c", start, restart: "temporary" },
      { id: "d", start, restart: "permanent" },
      { id: "e", start, restart: "transient" },
    ],
  });

const nothing = { restart: [], stop: [], stopOrder: [] };

// [strategy, failed child (its restart type), reason, expected plan]
const cases: [Strategy, string, ExitReason, { restart: string[]; stop: string[]; stopOrder: string[] }][] = [
  // one_for_one: only the failed child, if its restart type says so.
  ["one_for_one", "a (permanent)", "normal", { restart: ["a"], stop: [], stopOrder: ["a"] }],
  ["one_for_one", "a (permanent)", "error", { restart: ["a"], stop: [], stopOrder: ["a"] }],
  ["one_for_one", "b (transient)", "normal", nothing],
  ["one_for_one", "b (transient)", "error", { restart: ["b"], stop: [], stopOrder: ["b"] }],
  ["one_for_one", "c (temporary)", "normal", nothing],
  ["one_for_one", "c (temporary)", "error", nothing],
  // one_for_all: every child stops (reverse order) and restarts (in order), except temporary siblings, which stay stopped.
  ["one_for_all", "a (permanent)", "normal", { restart: ["a", "b", "d", "e"], stop: ["c"], stopOrder: ["e", "d", "c", "b", "a"] }],
  ["one_for_all", "a (permanent)", "error", { restart: ["a", "b", "d", "e"], stop: ["c"], stopOrder: ["e", "d", "c", "b", "a"] }],
  ["one_for_all", "b (transient)", "normal", nothing],
  ["one_for_all", "b (transient)", "error", { restart: ["a", "b", "d", "e"], stop: ["c"], stopOrder: ["e", "d", "c", "b", "a"] }],
  ["one_for_all", "c (temporary)", "normal", nothing],
  ["one_for_all", "c (temporary)", "error", nothing],
  // rest_for_one: the failed child and every child started after it.
  ["rest_for_one", "a (permanent)", "normal", { restart: ["a", "b", "d", "e"], stop: ["c"], stopOrder: ["e", "d", "c", "b", "a"] }],
  ["rest_for_one", "a (permanent)", "error", { restart: ["a", "b", "d", "e"], stop: ["c"], stopOrder: ["e", "d", "c", "b", "a"] }],
  ["rest_for_one", "b (transient)", "normal", nothing],
  ["rest_for_one", "b (transient)", "error", { restart: ["b", "d", "e"], stop: ["c"], stopOrder: ["e", "d", "c", "b"] }],
  ["rest_for_one", "c (temporary)", "normal", nothing],
  ["rest_for_one", "c (temporary)", "error", nothing],
  ["rest_for_one", "d (permanent)", "error", { restart: ["d", "e"], stop: [], stopOrder: ["e", "d"] }],
  ["rest_for_one", "e (transient)", "error", { restart: ["e"], stop: [], stopOrder: ["e"] }],
];

describe("planRestart", () => {
  it.each(cases)("%s: child %s exiting %s", (strategy, child, reason, expected) => {
    const plan = planRestart(treeWith(strategy), child.slice(0, 1), reason);
    expect({ restart: [...plan.restart], stop: [...plan.stop], stopOrder: [...plan.stopOrder] }).toEqual(expected);
  });

  it("covers every strategy × restart type × reason", () => {
    const covered = new Set(cases.map(([s, child, r]) => `${s}/${child.slice(3, -1)}/${r}`));
    for (const s of ["one_for_one", "one_for_all", "rest_for_one"]) {
      for (const t of ["permanent", "transient", "temporary"]) for (const r of ["normal", "error"]) expect(covered).toContain(`${s}/${t}/${r}`);
    }
  });

  it("stops in reverse start order and restarts in start order", () => {
    const plan = planRestart(treeWith("one_for_all"), "d", "error");
    expect([...plan.stopOrder]).toEqual([...plan.stopOrder].sort().reverse());
    expect([...plan.restart]).toEqual([...plan.restart].sort());
  });

  it("treats a nested supervisor that escalated like any failed child", () => {
    const spec = defineSupervisor({
      id: "root",
      strategy: "rest_for_one",
      children: [
        { id: "db", start },
        { id: "workers", children: [{ id: "w1", start }] },
        { id: "api", start },
      ],
    });
    expect(planRestart(spec, "workers", "error")).toEqual({ restart: ["workers", "api"], stop: [], stopOrder: ["api", "workers"] });
  });

  it("returns frozen plans", () => {
    const plan = planRestart(treeWith("one_for_all"), "a", "error");
    expect(Object.isFrozen(plan) && Object.isFrozen(plan.restart) && Object.isFrozen(plan.stop)).toBe(true);
    expect(Object.isFrozen(planRestart(treeWith("one_for_one"), "c", "error").restart)).toBe(true);
  });

  it("rejects an unknown child with ERR_SUPERVISOR_CHILD_UNKNOWN", () => {
    const error = thrown(() => planRestart(treeWith("one_for_one"), "zz", "error"));
    expect(codeOf(error)).toBe("ERR_SUPERVISOR_CHILD_UNKNOWN");
    expect(error.details).toEqual({ supervisor: "sup", child: "zz" });
  });
});
