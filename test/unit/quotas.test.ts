import { describe, expect, it } from "vitest";
import { FakeClock, QuotaRule } from "../../runtime/index.ts";
import { Quotas, type QuotaSubject } from "../../runtime/internal.ts";
import { hasCode, isTetherError } from "../../protocols/index.ts";
import { MemoryKv } from "../support/memory-kv.ts";

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** A realistic epoch time, at the start of an hour (and so of a minute). */
const START = 480_000 * HOUR;

const rule = (input: Partial<QuotaRule> & Pick<QuotaRule, "scope" | "unit" | "limit">): QuotaRule => QuotaRule.parse(input);

const setup = (rules: QuotaRule[]) => {
  const kv = new MemoryKv();
  const clock = new FakeClock(START);
  return { kv, clock, quotas: new Quotas(kv, rules, { clock }) };
};

const alice: QuotaSubject = { agent: "alice", workflow: "wf-1" };
const bob: QuotaSubject = { agent: "bob", workflow: "wf-2" };

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
};

describe("Quotas", () => {
  it("counts reserved amounts within a fixed window and refuses the one that would pass the limit", async () => {
    const actions = rule({ scope: "agent", unit: "actions", limit: 3, windowMs: MINUTE });
    const { quotas } = setup([actions]);
    for (let i = 0; i < 3; i++) await quotas.reserve(alice, { actions: 1 });
    expect(await quotas.current(actions, alice)).toBe(3);
    const error = await rejection(quotas.reserve(alice, { actions: 1 }));
    expect(hasCode(error, "ERR_QUOTA_EXCEEDED")).toBe(true);
    expect(isTetherError(error) && error.details).toMatchObject({ current: 3, amount: 1, limit: 3 });
    expect(await quotas.current(actions, alice)).toBe(3);
  });

  it("lets usage reach the limit exactly", async () => {
    const tokens = rule({ scope: "agent", unit: "tokens", limit: 1_000 });
    const { quotas } = setup([tokens]);
    await quotas.reserve(alice, { tokens: 600 });
    await quotas.reserve(alice, { tokens: 400 });
    expect(await quotas.current(tokens, alice)).toBe(1_000);
    expect(hasCode(await rejection(quotas.reserve(alice, { tokens: 0.5 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
  });

  it("refuses before writing anything, and gives back what earlier rules had reserved", async () => {
    const actions = rule({ scope: "agent", unit: "actions", limit: 10 });
    const tokens = rule({ scope: "network", unit: "tokens", limit: 100 });
    const { quotas, kv } = setup([actions, tokens]);
    await quotas.reserve(alice, { actions: 1, tokens: 60 });
    const error = await rejection(quotas.reserve(bob, { actions: 1, tokens: 50 }));
    expect(hasCode(error, "ERR_QUOTA_EXCEEDED")).toBe(true);
    expect(await quotas.current(actions, bob)).toBe(0);
    expect(await quotas.current(tokens, bob)).toBe(60);
    const writes = kv.writes;
    await rejection(quotas.reserve(alice, { tokens: 41 })); // refused by the only rule that counts tokens
    expect(kv.writes).toBe(writes);
  });

  it("starts a fresh count when the window rolls over", async () => {
    const actions = rule({ scope: "agent", unit: "actions", limit: 2, windowMs: MINUTE });
    const { quotas, clock } = setup([actions]);
    await quotas.reserve(alice, { actions: 2 });
    clock.advance(MINUTE - 1);
    expect(hasCode(await rejection(quotas.reserve(alice, { actions: 1 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
    clock.advance(1);
    expect(await quotas.current(actions, alice)).toBe(0);
    await quotas.reserve(alice, { actions: 2 });
    expect(await quotas.current(actions, alice)).toBe(2);
  });

  it("aligns windows to multiples of their length, not to the first use", async () => {
    const actions = rule({ scope: "agent", unit: "actions", limit: 1, windowMs: MINUTE });
    const { quotas, clock } = setup([actions]);
    clock.advance(MINUTE - 10);
    await quotas.reserve(alice, { actions: 1 });
    clock.advance(10); // a new minute began: ten milliseconds later, not a minute
    await quotas.reserve(alice, { actions: 1 });
    expect(await quotas.current(actions, alice)).toBe(1);
  });

  it("counts each agent separately, and a rule with an id for that agent only", async () => {
    const each = rule({ scope: "agent", unit: "actions", limit: 1 });
    const onlyBob = rule({ scope: "agent", id: "bob", unit: "calls", limit: 1 });
    const { quotas } = setup([each, onlyBob]);
    await quotas.reserve(alice, { actions: 1, calls: 5 });
    await quotas.reserve(bob, { actions: 1, calls: 1 });
    expect(await quotas.current(each, alice)).toBe(1);
    expect(await quotas.current(each, bob)).toBe(1);
    expect(await quotas.current(onlyBob, alice)).toBe(0);
    expect(hasCode(await rejection(quotas.reserve(bob, { calls: 1 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
  });

  it("counts per workflow, and leaves workflow rules out for work outside any workflow", async () => {
    const perWorkflow = rule({ scope: "workflow", unit: "actions", limit: 2 });
    const { quotas } = setup([perWorkflow]);
    await quotas.reserve(alice, { actions: 1 });
    await quotas.reserve({ agent: "bob", workflow: "wf-1" }, { actions: 1 });
    expect(hasCode(await rejection(quotas.reserve(bob, { actions: 3 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
    await quotas.reserve(bob, { actions: 2 });
    expect(await quotas.current(perWorkflow, alice)).toBe(2);
    await quotas.reserve({ agent: "carol", workflow: undefined }, { actions: 100 });
    expect(await quotas.current(perWorkflow, { agent: "carol", workflow: undefined })).toBe(0);
  });

  it("records reported usage without refusing it, and counts it against the next reservation", async () => {
    const tokens = rule({ scope: "agent", unit: "tokens", limit: 100 });
    const { quotas } = setup([tokens]);
    await quotas.record(alice, { tokens: 150 });
    expect(await quotas.current(tokens, alice)).toBe(150);
    expect(hasCode(await rejection(quotas.reserve(alice, { tokens: 1 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
  });

  it("counts an amount once when two rules watch the same counter, held to the stricter limit", async () => {
    const everyone = rule({ scope: "agent", unit: "tokens", limit: 100 });
    const alicesOwn = rule({ scope: "agent", id: "alice", unit: "tokens", limit: 50 });
    const { quotas } = setup([everyone, alicesOwn]);
    await quotas.reserve(alice, { tokens: 30 });
    expect(await quotas.current(everyone, alice)).toBe(30);
    await quotas.record(alice, { tokens: 10 });
    expect(await quotas.current(alicesOwn, alice)).toBe(40);
    expect(hasCode(await rejection(quotas.reserve(alice, { tokens: 11 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
    await quotas.reserve(alice, { tokens: 10 });
    expect(await quotas.current(everyone, alice)).toBe(50);
  });

  it("ignores zero, negative and undeclared amounts", async () => {
    const tokens = rule({ scope: "agent", unit: "tokens", limit: 100 });
    const { quotas, kv } = setup([tokens]);
    await quotas.reserve(alice, { tokens: 0 });
    await quotas.reserve(alice, { tokens: -50 });
    await quotas.reserve(alice, { images: 3 });
    await quotas.record(alice, { tokens: -5 });
    expect(kv.writes).toBe(0);
    expect(await quotas.current(tokens, alice)).toBe(0);
  });

  it("leaves a counter alone when given an amount that is not a number", async () => {
    const tokens = rule({ scope: "agent", unit: "tokens", limit: 100 });
    const { quotas, kv } = setup([tokens]);
    await quotas.reserve(alice, { tokens: 10 });
    await quotas.reserve(alice, { tokens: Number.NaN });
    await quotas.record(alice, { tokens: Number.NaN });
    await quotas.reserve(alice, { tokens: "5" as unknown as number });
    expect(kv.text(kv.keys()[0] as string)).toBe("10");
    // a poisoned counter (NaN) would never be over its limit again
    expect(hasCode(await rejection(quotas.reserve(alice, { tokens: 91 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
  });

  it("counts a deleted counter as zero and writes over its marker", async () => {
    const actions = rule({ scope: "agent", unit: "actions", limit: 5 });
    const { quotas, kv } = setup([actions]);
    await quotas.reserve(alice, { actions: 4 });
    const [key] = kv.keys();
    kv.delete(key as string);
    expect(await quotas.current(actions, alice)).toBe(0);
    await quotas.reserve(alice, { actions: 5 });
    expect(kv.text(key as string)).toBe("5");
  });

  it("retries a compare-and-set that lost a race, on top of the other writer's count", async () => {
    const actions = rule({ scope: "network", unit: "actions", limit: 10 });
    const { quotas, kv } = setup([actions]);
    await quotas.reserve(alice, { actions: 1 });
    const [key] = kv.keys();
    let raced = false;
    kv.beforeWrite = (k) => {
      if (raced) return;
      raced = true;
      kv.put(k, String(Number(kv.text(k)) + 5)); // another node reserved 5 meanwhile
    };
    await quotas.reserve(bob, { actions: 2 });
    expect(kv.conflicts).toBe(1);
    expect(kv.text(key as string)).toBe("8");
  });

  it("checks the limit again after losing a race", async () => {
    const actions = rule({ scope: "network", unit: "actions", limit: 10 });
    const { quotas, kv } = setup([actions]);
    await quotas.reserve(alice, { actions: 8 });
    let raced = false;
    kv.beforeWrite = (k) => {
      if (raced) return;
      raced = true;
      kv.put(k, "9");
    };
    expect(hasCode(await rejection(quotas.reserve(bob, { actions: 2 })), "ERR_QUOTA_EXCEEDED")).toBe(true);
    expect(await quotas.current(actions, bob)).toBe(9);
  });

  it("retries a lost race to create the counter", async () => {
    const actions = rule({ scope: "network", unit: "actions", limit: 10 });
    const { quotas, kv } = setup([actions]);
    kv.beforeWrite = (k) => {
      kv.beforeWrite = undefined;
      kv.put(k, "3"); // another node created the counter first
    };
    await quotas.reserve(alice, { actions: 1 });
    expect(kv.conflicts).toBe(1);
    expect(await quotas.current(actions, alice)).toBe(4);
  });

  it("gives up with ERR_QUOTA_STORE_FAILED when the counter keeps changing", async () => {
    const actions = rule({ scope: "network", unit: "actions", limit: 1_000_000 });
    const { quotas, kv } = setup([actions]);
    await quotas.reserve(alice, { actions: 1 });
    kv.beforeWrite = (k) => kv.put(k, String(Number(kv.text(k)) + 1));
    expect(hasCode(await rejection(quotas.reserve(alice, { actions: 1 })), "ERR_QUOTA_STORE_FAILED")).toBe(true);
    expect(kv.conflicts).toBe(20);
  });
});
