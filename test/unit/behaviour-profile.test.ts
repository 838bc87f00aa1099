import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineProfile, hasCode, isTetherError, peerMatches, type BehaviourProfile, type ProfileViolation } from "../../protocols/index.ts";
import { FakeClock, ProfileGuard, silentLogger, type ViolationNotice } from "../../runtime/index.ts";

const trader = defineProfile({
  actions: {
    trade: { params: z.object({ symbol: z.enum(["ACME", "INIT"]), qty: z.number().int().min(1).max(100) }), rate: { max: 3, windowMs: 1_000 }, maxUnits: { usd: 10_000 } },
    quote: {},
  },
  rate: { max: 5, windowMs: 10_000 },
  peers: ["broker", "risk-*"],
});

const setup = (declared: BehaviourProfile | null = trader) => {
  const clock = new FakeClock(1_000_000);
  const events: { event: string; subject: string; details: Record<string, unknown> }[] = [];
  const evidence: ProfileViolation[] = [];
  const notices: ViolationNotice[] = [];
  const guard = new ProfileGuard({
    clock,
    logger: silentLogger,
    declared: (id) => (id === "trader" ? (declared ?? undefined) : undefined),
    evidence: async (_judged, v) => {
      evidence.push(v);
      return `ect-${evidence.length}`;
    },
    recordEvent: async (event, subject, details) => {
      events.push({ event, subject, details });
      return undefined;
    },
    onViolation: (n) => notices.push(n),
  });
  const judged = () => ({ actorId: "trader", parent: undefined, wid: undefined, input: {}, messageId: "m1" });
  const act = (name: string, params: Record<string, unknown>, cost?: Record<string, number>) => guard.checkAction("trader", name, params, cost, judged);
  const kindOf = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return "ok";
    } catch (error) {
      if (!hasCode(error, "ERR_PROFILE_VIOLATION")) throw error;
      return String(error.details["kind"]);
    }
  };
  return { clock, guard, events, evidence, notices, act, kindOf, judged };
};

describe("behavioural profiles", () => {
  it("allows what the profile allows and records nothing", async () => {
    const { act, events, evidence } = setup();
    await act("trade", { symbol: "ACME", qty: 10 }, { usd: 900 });
    await act("quote", { anything: true });
    expect(events).toEqual([]);
    expect(evidence).toEqual([]);
  });

  it("blocks an action the profile does not name (kind action), records evidence and a ledger violation", async () => {
    const { act, kindOf, events, evidence, notices } = setup();
    expect(await kindOf(act("withdraw", { all: true }))).toBe("action");
    expect(evidence).toMatchObject([{ kind: "action", judged: "withdraw", response: "block" }]);
    expect(events).toMatchObject([{ event: "violation", subject: "trader", details: { source: "profile", code: "ERR_PROFILE_VIOLATION", kind: "action", judged: "withdraw", evidence: "ect-1" } }]);
    expect(notices).toMatchObject([{ actorId: "trader", kind: "action", evidence: "ect-1", response: "block" }]);
  });

  it("does not treat inherited object keys as allowed action names", async () => {
    const { act, kindOf } = setup();
    expect(await kindOf(act("constructor", {}))).toBe("action");
    expect(await kindOf(act("__proto__", {}))).toBe("action");
  });

  it("blocks params outside the zod bounds (kind params)", async () => {
    const { act, kindOf } = setup();
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 1_000 }))).toBe("params");
    expect(await kindOf(act("trade", { symbol: "EVIL", qty: 1 }))).toBe("params");
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 100 }))).toBe("ok");
  });

  it("blocks a declared cost above maxUnits (kind resource), and reports metered usage above it after the fact", async () => {
    const { act, kindOf, guard, judged, evidence } = setup();
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 1 }, { usd: 10_001 }))).toBe("resource");
    expect(await guard.checkUsage("trader", "trade", { usd: 10_000 }, judged)).toBeUndefined();
    expect(await guard.checkUsage("trader", "trade", { usd: 50_000 }, judged)).toMatchObject({ kind: "resource" });
    expect(evidence.map((v) => v.kind)).toEqual(["resource", "resource"]);
  });

  it("blocks past a per-action rate within its window, and allows again once the window slides (kind rate)", async () => {
    const { act, kindOf, clock } = setup();
    for (let i = 0; i < 3; i++) expect(await kindOf(act("trade", { symbol: "ACME", qty: 1 }))).toBe("ok");
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 1 }))).toBe("rate");
    clock.advance(999);
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 1 }))).toBe("rate");
    clock.advance(1);
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 1 }))).toBe("ok");
  });

  it("blocks past the total rate over all actions; blocked actions do not count", async () => {
    const { act, kindOf, clock } = setup();
    for (let i = 0; i < 3; i++) expect(await kindOf(act("quote", {}))).toBe("ok");
    expect(await kindOf(act("withdraw", {}))).toBe("action"); // not counted
    clock.advance(5_000);
    expect(await kindOf(act("quote", {}))).toBe("ok");
    expect(await kindOf(act("quote", {}))).toBe("ok");
    expect(await kindOf(act("quote", {}))).toBe("rate");
  });

  it("checks peers by exact id or prefix pattern (kind peer), synchronously", () => {
    const { guard, judged, evidence } = setup();
    expect(() => guard.checkPeer("trader", "broker", judged)).not.toThrow();
    expect(() => guard.checkPeer("trader", "risk-eu", judged)).not.toThrow();
    let error: unknown;
    try {
      guard.checkPeer("trader", "exchange", judged);
    } catch (e) {
      error = e;
    }
    expect(isTetherError(error) && error.details).toMatchObject({ kind: "peer", judged: "exchange" });
    expect(peerMatches("*", "anyone")).toBe(true);
    expect(peerMatches("risk-*", "risk")).toBe(false);
    return Promise.resolve().then(() => expect(evidence).toMatchObject([{ kind: "peer", judged: "exchange" }]));
  });

  it("checks nothing for an actor without a profile", async () => {
    const { guard, judged } = setup();
    expect(guard.has("other")).toBe(false);
    await guard.checkAction("other", "anything", {}, { usd: 1e9 }, judged);
    expect(() => guard.checkPeer("other", "anyone", judged)).not.toThrow();
  });

  it("constrain only narrows: a layer cannot re-allow what the declaration forbids", async () => {
    const { guard, act, kindOf } = setup();
    guard.constrain("trader", { actions: { trade: {}, withdraw: {} }, peers: ["*"] });
    expect(await kindOf(act("withdraw", {}))).toBe("action"); // still not in the declared profile
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 1_000 }))).toBe("params"); // declared bounds still hold
    expect(() => guard.checkPeer("trader", "exchange", () => ({ actorId: "trader", parent: undefined, wid: undefined, input: {}, messageId: "m" }))).toThrow();
  });

  it("constrain takes effect on the next call: tighter bounds, fewer actions, fewer peers, its own response", async () => {
    const { guard, act, kindOf, judged, notices } = setup();
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 50 }))).toBe("ok");
    guard.constrain("trader", { actions: { trade: { params: z.object({ qty: z.number().max(10) }) } }, peers: ["broker"], onViolation: "quarantine", quarantineMs: 5_000 });
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 50 }))).toBe("params");
    expect(await kindOf(act("quote", {}))).toBe("action");
    expect(await kindOf(act("trade", { symbol: "ACME", qty: 5 }))).toBe("ok");
    expect(() => guard.checkPeer("trader", "risk-eu", judged)).toThrow();
    expect(notices[0]).toMatchObject({ kind: "params", response: "quarantine", quarantineMs: 5_000 });
  });

  it("constrain gives an actor with no declaration a profile", async () => {
    const { guard, judged } = setup(null);
    expect(guard.has("trader")).toBe(false);
    guard.constrain("trader", { actions: { quote: {} } });
    expect(guard.has("trader")).toBe(true);
    await expect(guard.checkAction("trader", "trade", {}, undefined, judged)).rejects.toMatchObject({ code: "ERR_PROFILE_VIOLATION" });
  });

  it("refuses a malformed profile where it is declared", () => {
    expect(() => defineProfile({ rate: { max: -1, windowMs: 10 } })).toThrow();
    expect(() => defineProfile({ actions: { x: { params: "not a schema" as never } } })).toThrow();
    expect(() => defineProfile({ onViolation: "shrug" as never })).toThrow();
  });

  it("keeps recording violations even when the evidence store fails", async () => {
    const events: string[] = [];
    const guard = new ProfileGuard({
      clock: new FakeClock(0),
      logger: silentLogger,
      declared: () => defineProfile({ actions: {} }),
      evidence: () => Promise.reject(new Error("store down")),
      recordEvent: async (event) => {
        events.push(event);
        return undefined;
      },
      onViolation: () => undefined,
    });
    await expect(guard.checkAction("a", "x", {}, undefined, () => ({ actorId: "a", parent: undefined, wid: undefined, input: {}, messageId: "m" }))).rejects.toMatchObject({ code: "ERR_PROFILE_VIOLATION" });
    expect(events).toEqual(["violation"]);
  });
});
