import { describe, expect, it } from "vitest";
import { CoverageTally, expectedActors } from "../../actors/index.ts";
import { constraintsOf, scopeOf } from "../../cli/index.ts";
import { ControlRoles, hasCode, mayPerform, operationOf, OverrideSignalBody, type ActorRecord } from "../../protocols/index.ts";
import { FakeClock } from "../../runtime/index.ts";
import { constraintLink, mergeConstraints } from "../../runtime/internal.ts";
import type { ActionCall } from "../../runtime/index.ts";

const call = (name: string, params: Record<string, unknown> = {}): ActionCall => ({ name, params, actorId: "a", nodeId: "n", messageId: "m", signal: new AbortController().signal, cost: undefined, compensate: undefined, scope: {} as ActionCall["scope"], record: {} });

describe("override signals and roles", () => {
  it("lets people with operator rights issue every override, and no machine key or observer", () => {
    for (const op of ["override.stop", "override.pause", "override.resume", "override.constrain", "override.rollback", "override.takeover", "override.lift"] as const) {
      expect(["owner", "admin", "operator"].every((r) => mayPerform(r as keyof typeof ControlRoles, op))).toBe(true);
      expect(["approver", "observer", "node", "agent", "audit"].some((r) => mayPerform(r as keyof typeof ControlRoles, op))).toBe(false);
    }
    const signal = OverrideSignalBody.parse({ type: "tether.override.v1.signal", id: "s1", action: "takeover", scope: { kind: "network" }, level: "emergency", reason: "r" });
    expect(operationOf(signal)).toBe("override.takeover");
    expect(signal).toMatchObject({ onLift: "release", ackDeadlineMs: 5_000 });
    expect(OverrideSignalBody.safeParse({ ...signal, scope: { kind: "agent", id: "a.*" } }).success).toBe(false);
  });

  it("works out the expected actors of a scope from the registry, never the override actor or exempt ones", () => {
    const rec = (actorId: string, nodeId: string, capabilities: string[] = []): ActorRecord => ({ type: "tether.registry.v1.actor", actorId, nodeId, nodeEpoch: 1, className: "X", capabilities, spawnedAt: 0 });
    const all = [rec("a", "n1", ["dispensing"]), rec("b", "n2"), rec("tether-override", "n1"), rec("audit", "n1")];
    expect(expectedActors({ kind: "network" }, all, ["audit"])).toEqual(["a", "b"]);
    expect(expectedActors({ kind: "node", id: "n1" }, all, ["audit"])).toEqual(["a"]);
    expect(expectedActors({ kind: "capability", capability: "dispensing" }, all, [])).toEqual(["a"]);
    expect(expectedActors({ kind: "workflow", wid: "w" }, all, [])).toBeNull();
    expect(expectedActors({ kind: "subtree", id: "sup", members: ["a", "a"] }, all, [])).toEqual(["sup", "a"]);
  });

  it("tallies coverage with acks that arrive before the expected set", () => {
    const t = new CoverageTally("o1");
    const ack = (actorId: string) => ({ type: "tether.override.v1.ack", overrideId: "o1", actorId, nodeId: "n", at: 0, outcome: "applied", aborted: false, queued: 0, fenced: false }) as const;
    t.add(ack("a"));
    expect(t.snapshot.complete).toBe(false);
    t.expect(["a", "b"]);
    expect(t.snapshot).toMatchObject({ missing: ["b"], fraction: 0.5, complete: false });
    t.add(ack("b"));
    t.add(ack("b"));
    expect(t.snapshot).toMatchObject({ missing: [], fraction: 1, complete: true });
  });
});

describe("constraints", () => {
  it("refuses actions not allowed, out of bounds, or over the rate, per one-second window of the clock", async () => {
    const clock = new FakeClock(0);
    const link = constraintLink(() => mergeConstraints([{ allowedActions: ["dispense", "log"], maxActsPerSecond: 2 }, { allowedActions: ["dispense"], bounds: { dose: { max: 10 } } }]), clock);
    const next = () => Promise.resolve("ran");
    const refused = (e: unknown) => hasCode(e, "ERR_ACTION_CONSTRAINED");
    await expect(link(call("log"), next)).rejects.toSatisfy(refused); // the tighter allow-list wins
    await expect(link(call("dispense", { dose: 11 }), next)).rejects.toSatisfy(refused);
    await expect(link(call("dispense", { dose: "10" }), next)).rejects.toSatisfy(refused);
    await expect(link(call("dispense", { dose: 10 }), next)).resolves.toBe("ran");
    await expect(link(call("dispense"), next)).resolves.toBe("ran");
    await expect(link(call("dispense"), next)).rejects.toSatisfy(refused);
    clock.advance(1_000);
    await expect(link(call("dispense"), next)).resolves.toBe("ran");
  });

  it("parses the CLI's scope flags and --set constraints, refusing two scopes or unknown keys", () => {
    expect(scopeOf({ subtree: "sup", members: "a,b" })).toEqual({ kind: "subtree", id: "sup", members: ["a", "b"] });
    expect(scopeOf({ network: true })).toEqual({ kind: "network" });
    expect(() => scopeOf({ agent: "a", network: true })).toThrow(/exactly one/);
    expect(() => scopeOf({})).toThrow(/exactly one/);
    expect(constraintsOf(["allowedActions=a,b", "maxActsPerSecond=3", "dose.max=10", "dose.min=1"])).toEqual({ allowedActions: ["a", "b"], maxActsPerSecond: 3, bounds: { dose: { max: 10, min: 1 } } });
    expect(() => constraintsOf(["colour=red"])).toThrow(/unknown constraint/);
    expect(() => constraintsOf(["maxActsPerSecond=-1"])).toThrow(/invalid constraints/);
  });
});
