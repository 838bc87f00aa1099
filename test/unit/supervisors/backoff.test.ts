import { describe, expect, it } from "vitest";
import { backoffDelay, constantBackoff, exponentialBackoff } from "../../../supervisors/index.ts";
import { codeOf, seededRandom, thrown } from "./support.ts";

const noJitter = () => 0;

describe("exponentialBackoff", () => {
  it("fills in multiplier 2 and jitter 0.2 and returns frozen plain data", () => {
    const policy = exponentialBackoff({ initialMs: 100, maxMs: 10_000 });
    expect(policy).toEqual({ kind: "exponential", initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2 });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
  });

  it.each([
    ["maxMs below initialMs", { initialMs: 500, maxMs: 100 }, "maxMs"],
    ["a jitter above 1", { initialMs: 100, maxMs: 1_000, jitter: 1.5 }, "jitter"],
    ["a negative jitter", { initialMs: 100, maxMs: 1_000, jitter: -0.1 }, "jitter"],
    ["a multiplier below 1 (delays would shrink)", { initialMs: 100, maxMs: 1_000, multiplier: 0.5 }, "multiplier"],
    ["a negative initialMs", { initialMs: -1, maxMs: 1_000 }, "initialMs"],
    ["a fractional maxMs", { initialMs: 1, maxMs: 10.5 }, "maxMs"],
    ["an unknown option", { initialMs: 1, maxMs: 10, jiter: 0.1 }, "jiter"],
  ])("rejects %s with ERR_SUPERVISOR_SPEC_INVALID naming the field", (_what, input, field) => {
    const error = thrown(() => exponentialBackoff(input as never));
    expect(codeOf(error)).toBe("ERR_SUPERVISOR_SPEC_INVALID");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(field);
  });
});

describe("backoffDelay", () => {
  it("grows by the multiplier from initialMs and stops growing at maxMs", () => {
    const policy = exponentialBackoff({ initialMs: 100, maxMs: 1_000, jitter: 0 });
    expect([0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(policy, attempt, noJitter))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
    const triple = exponentialBackoff({ initialMs: 10, maxMs: 1_000, multiplier: 3, jitter: 0 });
    expect([0, 1, 2, 3, 4].map((attempt) => backoffDelay(triple, attempt, noJitter))).toEqual([10, 30, 90, 270, 810]);
  });

  it("keeps every jittered delay within (base × (1 − jitter), base] for a seeded random", () => {
    const policy = exponentialBackoff({ initialMs: 100, maxMs: 5_000, jitter: 0.2 });
    const random = seededRandom(42);
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(5_000, 100 * 2 ** attempt);
      const delays = Array.from({ length: 500 }, () => backoffDelay(policy, attempt, random));
      const [lowest, highest] = [Math.min(...delays), Math.max(...delays)];
      expect(lowest).toBeGreaterThanOrEqual(Math.round(base * 0.8));
      expect(highest).toBeLessThanOrEqual(base);
      // The jitter really spreads the delays over the range instead of sitting at one end.
      expect(lowest).toBeLessThan(base * 0.82);
      expect(highest).toBeGreaterThan(base * 0.98);
    }
  });

  it("spreads delays over [0, base] with full jitter (1) and half of it with equal jitter (0.5)", () => {
    const random = seededRandom(7);
    const full = Array.from({ length: 1_000 }, () => backoffDelay(exponentialBackoff({ initialMs: 1_000, maxMs: 1_000, jitter: 1 }), 0, random));
    expect(Math.min(...full)).toBeLessThan(20);
    expect(Math.max(...full)).toBeGreaterThan(980);
    const equal = Array.from({ length: 1_000 }, () => backoffDelay(exponentialBackoff({ initialMs: 1_000, maxMs: 1_000, jitter: 0.5 }), 0, random));
    expect(Math.min(...equal)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...equal)).toBeLessThanOrEqual(1_000);
  });

  it("is a pure function of policy, attempt and random: the same seed gives the same delays", () => {
    const policy = exponentialBackoff({ initialMs: 50, maxMs: 60_000 });
    const run = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, (_, attempt) => backoffDelay(policy, attempt, random));
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });

  it("never exceeds maxMs, even for attempts so large that the growth overflows", () => {
    const policy = exponentialBackoff({ initialMs: 100, maxMs: 30_000 });
    expect(backoffDelay(policy, 10_000, noJitter)).toBe(30_000);
    expect(backoffDelay(policy, Number.MAX_SAFE_INTEGER, noJitter)).toBe(30_000);
    expect(backoffDelay(exponentialBackoff({ initialMs: 0, maxMs: 30_000 }), 10_000, noJitter)).toBe(0);
  });

  it("clamps a random source that strays outside [0, 1)", () => {
    const policy = exponentialBackoff({ initialMs: 1_000, maxMs: 1_000, jitter: 0.5 });
    expect(backoffDelay(policy, 0, () => 7)).toBe(500);
    expect(backoffDelay(policy, 0, () => -3)).toBe(1_000);
    expect(backoffDelay(policy, 0, () => Number.NaN)).toBe(1_000);
  });

  it.each([[-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY]])("rejects attempt %s with ERR_SUPERVISOR_SPEC_INVALID", (attempt) => {
    const policy = exponentialBackoff({ initialMs: 100, maxMs: 1_000 });
    expect(codeOf(thrown(() => backoffDelay(policy, attempt, noJitter)))).toBe("ERR_SUPERVISOR_SPEC_INVALID");
  });
});

describe("constantBackoff", () => {
  it("waits the same delay before every attempt, without jitter by default", () => {
    const policy = constantBackoff({ delayMs: 250 });
    expect(policy).toEqual({ kind: "constant", delayMs: 250, jitter: 0 });
    expect([0, 1, 5, 50].map((attempt) => backoffDelay(policy, attempt, seededRandom(3)))).toEqual([250, 250, 250, 250]);
  });

  it("jitters within (delay × (1 − jitter), delay] when asked", () => {
    const policy = constantBackoff({ delayMs: 1_000, jitter: 0.3 });
    const random = seededRandom(11);
    const delays = Array.from({ length: 500 }, (_, attempt) => backoffDelay(policy, attempt, random));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(700);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1_000);
  });

  it("rejects a negative delay with ERR_SUPERVISOR_SPEC_INVALID", () => {
    expect(codeOf(thrown(() => constantBackoff({ delayMs: -5 })))).toBe("ERR_SUPERVISOR_SPEC_INVALID");
  });
});
