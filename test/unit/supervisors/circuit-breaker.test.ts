import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../runtime/index.ts";
import {
  BreakerSnapshot,
  CircuitBreaker,
  compareBreakerSnapshots,
  withBreaker,
  type BreakerPermit,
  type BreakerTransition,
  type CircuitBreakerOptionsInput,
} from "../../../supervisors/index.ts";
import { codeOf, thrown } from "./support.ts";

const base: CircuitBreakerOptionsInput = {
  name: "triage→pharmacist",
  windowMs: 10_000,
  minimumCalls: 10,
  failureRateThreshold: 0.5,
  slowCallDurationMs: 1_000,
  slowCallRateThreshold: 0.5,
  openMs: 5_000,
  halfOpenMaxProbes: 2,
  halfOpenSuccessesToClose: 2,
};

const setup = (options: CircuitBreakerOptionsInput = {}, start = 0) => {
  const clock = new FakeClock(start);
  const breaker = new CircuitBreaker({ ...base, ...options }, clock);
  const transitions: BreakerTransition[] = [];
  breaker.onTransition((t) => transitions.push(t));
  return { clock, breaker, transitions };
};

const permit = (breaker: CircuitBreaker): BreakerPermit => {
  const acquired = breaker.tryAcquire();
  if (!acquired.ok) throw new Error(`expected a permit, got ${acquired.error.message}`);
  return acquired.permit;
};

/** Reports `outcomes` (true = failure) one after another, each taking `durationMs`. */
const calls = (breaker: CircuitBreaker, outcomes: boolean[], durationMs = 10): void => {
  for (const failed of outcomes) {
    const p = permit(breaker);
    if (failed) p.failure(durationMs);
    else p.success(durationMs);
  }
};
const failures = (n: number) => Array.from({ length: n }, () => true);
const successes = (n: number) => Array.from({ length: n }, () => false);

const openBreaker = (options: CircuitBreakerOptionsInput = {}) => {
  const s = setup(options);
  calls(s.breaker, failures(10));
  expect(s.breaker.state).toBe("open");
  return s;
};

const halfOpenBreaker = (options: CircuitBreakerOptionsInput = {}) => {
  const s = openBreaker(options);
  s.clock.advance(5_000);
  expect(s.breaker.state).toBe("half_open");
  return s;
};

describe("CircuitBreaker", () => {
  describe("closed", () => {
    it("starts closed and lets calls through", () => {
      const { breaker } = setup();
      expect(breaker.state).toBe("closed");
      calls(breaker, successes(100));
      expect(breaker.state).toBe("closed");
    });

    it("judges no rate before the window holds minimumCalls calls", () => {
      const { breaker } = setup();
      calls(breaker, failures(9));
      expect(breaker.state).toBe("closed");
      expect(breaker.metrics()).toMatchObject({ calls: 9, failures: 9 });
    });

    it("opens when the failure rate reaches 50% of at least 10 calls in the window", () => {
      const { breaker, transitions } = setup();
      calls(breaker, [...successes(4), ...failures(5)]);
      expect(breaker.state).toBe("closed"); // 5 of 9: too few calls to judge
      calls(breaker, successes(1)); // 5 of 10 = 50 %
      expect(breaker.state).toBe("open");
      expect(transitions).toEqual([{ breaker: "triage→pharmacist", from: "closed", to: "open", reason: "failure_rate", generation: 1, at: 0 }]);
    });

    it("stays closed while the failure rate stays below the threshold", () => {
      const { breaker } = setup();
      for (let i = 0; i < 20; i++) calls(breaker, [true, false, false]);
      expect(breaker.state).toBe("closed");
    });

    it("opens on the slow-call rate even when every call succeeds", () => {
      const { breaker, transitions } = setup();
      calls(breaker, successes(5), 1_000); // slow: at least slowCallDurationMs
      calls(breaker, successes(4), 999);
      expect(breaker.state).toBe("closed");
      calls(breaker, successes(1), 5_000); // 6 of 10 slow
      expect(breaker.state).toBe("open");
      expect(transitions[0]?.reason).toBe("slow_call_rate");
    });

    it("measures a call's duration on the clock when none is reported", () => {
      const { clock, breaker } = setup();
      const inFlight = Array.from({ length: 10 }, () => permit(breaker));
      clock.advance(1_500);
      for (const p of inFlight) p.success();
      expect(breaker.state).toBe("open");
      expect(breaker.metrics()).toMatchObject({ calls: 0 }); // the window restarts when the breaker opens
    });

    it("forgets outcomes that slid out of the time window", () => {
      const { clock, breaker } = setup({ windowMs: 10_000, windowBuckets: 10 });
      calls(breaker, failures(9));
      clock.advance(10_000); // the failures are a full window old
      calls(breaker, successes(9));
      calls(breaker, failures(1));
      expect(breaker.metrics()).toMatchObject({ calls: 10, failures: 1 });
      expect(breaker.state).toBe("closed");
    });

    it("with a count window, judges only the last windowSize calls", () => {
      const { breaker } = setup({ windowMs: undefined, windowSize: 10, minimumCalls: 10 });
      calls(breaker, failures(4));
      calls(breaker, successes(10)); // the failures fall out of the last 10
      expect(breaker.metrics()).toMatchObject({ calls: 10, failures: 0 });
      calls(breaker, failures(4));
      expect(breaker.state).toBe("closed"); // 4 of the last 10
      calls(breaker, failures(1));
      expect(breaker.state).toBe("open"); // 5 of the last 10
    });
  });

  describe("open", () => {
    it("refuses calls with ERR_BREAKER_OPEN and the time left in details.retryAfterMs", () => {
      const { clock, breaker } = openBreaker();
      clock.advance(1_500);
      const refused = breaker.tryAcquire();
      expect(refused.ok).toBe(false);
      if (refused.ok) return;
      expect(codeOf(refused.error)).toBe("ERR_BREAKER_OPEN");
      expect(refused.error.retryable).toBe(true);
      expect(refused.error.details).toMatchObject({ breaker: "triage→pharmacist", state: "open", retryAfterMs: 3_500 });
    });

    it("moves to half-open once openMs has passed", () => {
      const { clock, breaker, transitions } = openBreaker();
      clock.advance(4_999);
      expect(breaker.state).toBe("open");
      clock.advance(1);
      expect(breaker.state).toBe("half_open");
      expect(transitions.at(-1)).toMatchObject({ from: "open", to: "half_open", reason: "open_elapsed", generation: 2, at: 5_000 });
    });

    it("ignores outcomes of calls that started before the breaker opened", () => {
      const { clock, breaker } = setup();
      const late = Array.from({ length: 5 }, () => permit(breaker));
      calls(breaker, failures(10));
      expect(breaker.state).toBe("open");
      clock.advance(5_000);
      expect(breaker.state).toBe("half_open");
      for (const p of late) p.success(1); // describe the target as it was: must not count as probes
      expect(breaker.state).toBe("half_open");
      expect(breaker.metrics()).toMatchObject({ probeSuccesses: 0 });
    });
  });

  describe("half-open", () => {
    it("lets at most halfOpenMaxProbes probes run at once: with 2 probes the 3rd concurrent caller is refused", () => {
      const { breaker } = halfOpenBreaker();
      const first = breaker.tryAcquire();
      const second = breaker.tryAcquire();
      const third = breaker.tryAcquire();
      expect([first.ok, second.ok, third.ok]).toEqual([true, true, false]);
      if (third.ok) return;
      expect(codeOf(third.error)).toBe("ERR_BREAKER_OPEN");
      expect(third.error.details).toMatchObject({ state: "half_open", probesInFlight: 2 });
      expect(breaker.tryAcquire().ok).toBe(false); // still refused: the budget is not "let everything through"
    });

    it("frees a probe slot when a probe reports", () => {
      const { breaker } = halfOpenBreaker({ halfOpenSuccessesToClose: 3 });
      const a = permit(breaker);
      permit(breaker);
      expect(breaker.tryAcquire().ok).toBe(false);
      a.success(10);
      expect(breaker.state).toBe("half_open");
      expect(breaker.tryAcquire().ok).toBe(true);
      expect(breaker.tryAcquire().ok).toBe(false);
    });

    it("closes after halfOpenSuccessesToClose successful probes, with a fresh window", () => {
      const { breaker, transitions } = halfOpenBreaker();
      const a = permit(breaker);
      const b = permit(breaker);
      a.success(10);
      expect(breaker.state).toBe("half_open");
      b.success(10);
      expect(breaker.state).toBe("closed");
      expect(transitions.at(-1)).toMatchObject({ from: "half_open", to: "closed", reason: "probes_succeeded", generation: 3 });
      expect(breaker.metrics()).toMatchObject({ calls: 0, failures: 0 });
      calls(breaker, failures(9));
      expect(breaker.state).toBe("closed");
    });

    it("reopens for another openMs when a probe fails", () => {
      const { clock, breaker, transitions } = halfOpenBreaker();
      const a = permit(breaker);
      permit(breaker).success(10);
      a.failure(10);
      expect(breaker.state).toBe("open");
      expect(transitions.at(-1)).toMatchObject({ from: "half_open", to: "open", reason: "probe_failed" });
      const refused = breaker.tryAcquire();
      expect(!refused.ok && refused.error.details["retryAfterMs"]).toBe(5_000);
      clock.advance(5_000);
      expect(breaker.state).toBe("half_open");
    });

    it("reopens when a probe succeeds but slowly", () => {
      const { breaker, transitions } = halfOpenBreaker();
      permit(breaker).success(1_000);
      expect(breaker.state).toBe("open");
      expect(transitions.at(-1)?.reason).toBe("probe_slow");
    });

    it("reopens when a probe stays unreported for slowCallDurationMs, so a leaked permit cannot wedge it half-open", () => {
      const { clock, breaker, transitions } = halfOpenBreaker();
      permit(breaker);
      permit(breaker);
      expect(breaker.tryAcquire().ok).toBe(false);
      clock.advance(1_000);
      expect(breaker.state).toBe("open");
      expect(transitions.at(-1)?.reason).toBe("probe_slow");
      clock.advance(5_000);
      expect(breaker.tryAcquire().ok).toBe(true);
    });

    it("ignores a second report on the same permit", () => {
      const { breaker } = halfOpenBreaker({ halfOpenSuccessesToClose: 2 });
      const a = permit(breaker);
      a.success(10);
      a.success(10);
      a.failure(10);
      expect(breaker.state).toBe("half_open");
      expect(breaker.metrics()).toMatchObject({ probeSuccesses: 1, probesInFlight: 0 });
    });
  });

  it("reports every transition of a full cycle, in order, with increasing generations", () => {
    const { clock, breaker, transitions } = openBreaker();
    clock.advance(5_000);
    permit(breaker).failure(10);
    clock.advance(5_000);
    calls(breaker, successes(2));
    expect(transitions.map((t) => [t.from, t.to, t.reason, t.generation, t.at])).toEqual([
      ["closed", "open", "failure_rate", 1, 0],
      ["open", "half_open", "open_elapsed", 2, 5_000],
      ["half_open", "open", "probe_failed", 3, 5_000],
      ["open", "half_open", "open_elapsed", 4, 10_000],
      ["half_open", "closed", "probes_succeeded", 5, 10_000],
    ]);
  });

  it("keeps transitioning when a listener throws, and still calls the other listeners", () => {
    const { breaker, transitions } = setup();
    breaker.onTransition(() => {
      throw new Error("listener bug");
    });
    const late: BreakerTransition[] = [];
    breaker.onTransition((t) => late.push(t));
    calls(breaker, failures(10));
    expect(breaker.state).toBe("open");
    expect(transitions).toHaveLength(1);
    expect(late).toHaveLength(1);
  });

  it("stops calling a listener once unsubscribed", () => {
    const { breaker } = setup();
    const seen: BreakerTransition[] = [];
    const off = breaker.onTransition((t) => seen.push(t));
    off();
    calls(breaker, failures(10));
    expect(seen).toEqual([]);
  });

  describe("snapshots", () => {
    it("are plain JSON that the BreakerSnapshot schema accepts", () => {
      const { breaker } = openBreaker({ origin: "node-a" });
      const snapshot = breaker.snapshot();
      expect(snapshot).toEqual({ type: "tether.breaker.v1.snapshot", state: "open", generation: 1, changedAt: 0, openUntil: 5_000, origin: "node-a" });
      expect(BreakerSnapshot.parse(JSON.parse(JSON.stringify(snapshot)))).toEqual(snapshot);
      expect(BreakerSnapshot.safeParse({ ...snapshot, state: "ajar" }).success).toBe(false);
    });

    it("adopts a newer generation from another node and reports it as a remote transition", () => {
      const a = openBreaker({ origin: "node-a" });
      const b = setup({ origin: "node-b" });
      expect(b.breaker.applyRemote(a.breaker.snapshot())).toBe(true);
      expect(b.breaker.state).toBe("open");
      expect(b.transitions).toEqual([{ breaker: "triage→pharmacist", from: "closed", to: "open", reason: "remote", generation: 1, at: 0 }]);
      const refused = b.breaker.tryAcquire();
      expect(!refused.ok && refused.error.details["retryAfterMs"]).toBe(5_000);
      expect(b.breaker.snapshot()).toEqual(a.breaker.snapshot());
    });

    it("ignores snapshots that are older than or equal to its own state", () => {
      const a = openBreaker({ origin: "node-a" });
      const stale = setup({ origin: "node-b" }).breaker.snapshot();
      expect(a.breaker.applyRemote(stale)).toBe(false);
      expect(a.breaker.applyRemote(a.breaker.snapshot())).toBe(false);
      expect(a.breaker.state).toBe("open");
      expect(a.transitions).toHaveLength(1);
    });

    it("on equal generations prefers the more cautious state (open over half-open over closed)", () => {
      const closed = { type: "tether.breaker.v1.snapshot" as const, state: "closed" as const, generation: 4, changedAt: 100, openUntil: null, origin: "z" };
      const halfOpen = { ...closed, state: "half_open" as const, changedAt: 50, origin: "a" };
      const open = { ...closed, state: "open" as const, changedAt: 10, openUntil: 99_999, origin: "a" };
      expect(compareBreakerSnapshots(open, halfOpen)).toBeGreaterThan(0);
      expect(compareBreakerSnapshots(halfOpen, closed)).toBeGreaterThan(0);
      expect(compareBreakerSnapshots({ ...closed, generation: 5 }, open)).toBeGreaterThan(0);
      expect(compareBreakerSnapshots({ ...open, changedAt: 11 }, open)).toBeGreaterThan(0);
      expect(compareBreakerSnapshots({ ...open, origin: "b" }, open)).toBeGreaterThan(0);
      expect(compareBreakerSnapshots(open, { ...open })).toBe(0);
    });

    it("makes nodes converge on the same state whatever order the snapshots arrive in", () => {
      const snapshots: BreakerSnapshot[] = [
        { type: "tether.breaker.v1.snapshot", state: "open", generation: 3, changedAt: 1_000, openUntil: 60_000, origin: "n1" },
        { type: "tether.breaker.v1.snapshot", state: "half_open", generation: 3, changedAt: 2_000, openUntil: null, origin: "n2" },
        { type: "tether.breaker.v1.snapshot", state: "closed", generation: 2, changedAt: 3_000, openUntil: null, origin: "n3" },
        { type: "tether.breaker.v1.snapshot", state: "open", generation: 3, changedAt: 1_000, openUntil: 60_000, origin: "n0" },
      ];
      const orders = [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [1, 3, 0, 2],
        [2, 0, 3, 1],
        [1, 1, 2, 2, 0, 3, 0],
      ];
      const results = orders.map((order) => {
        const { breaker } = setup({ origin: "local" }, 1_500);
        for (const i of order) breaker.applyRemote(snapshots[i] as BreakerSnapshot);
        return breaker.snapshot();
      });
      for (const r of results) expect(r).toEqual(snapshots[0]);
    });

    it("continues from the adopted generation: its next own transition is one above it", () => {
      const { clock, breaker, transitions } = setup({ origin: "local" });
      breaker.applyRemote({ type: "tether.breaker.v1.snapshot", state: "open", generation: 41, changedAt: 0, openUntil: 2_000, origin: "far" });
      clock.advance(2_000);
      expect(breaker.state).toBe("half_open");
      expect(transitions.map((t) => [t.to, t.reason, t.generation])).toEqual([
        ["open", "remote", 41],
        ["half_open", "open_elapsed", 42],
      ]);
      expect(breaker.snapshot()).toMatchObject({ generation: 42, origin: "local", changedAt: 2_000 });
    });

    it("adopts a same-state snapshot's generation without announcing it or dropping calls in flight", () => {
      const { breaker, transitions } = setup({ origin: "local" });
      const inFlight = Array.from({ length: 10 }, () => permit(breaker));
      expect(breaker.applyRemote({ type: "tether.breaker.v1.snapshot", state: "closed", generation: 7, changedAt: 0, openUntil: null, origin: "far" })).toBe(true);
      expect(transitions).toEqual([]);
      expect(breaker.snapshot()).toMatchObject({ state: "closed", generation: 7, origin: "far" });
      for (const p of inFlight) p.failure(10);
      expect(breaker.state).toBe("open");
      expect(breaker.snapshot()).toMatchObject({ generation: 8, origin: "local" });
    });

    it("starts afresh after adopting a different state: calls in flight before it no longer count", () => {
      const { breaker } = setup({ origin: "local" });
      const inFlight = Array.from({ length: 10 }, () => permit(breaker));
      breaker.applyRemote({ type: "tether.breaker.v1.snapshot", state: "half_open", generation: 3, changedAt: 0, openUntil: null, origin: "far" });
      for (const p of inFlight) p.failure(10);
      expect(breaker.state).toBe("half_open");
      expect(breaker.metrics()).toMatchObject({ probesInFlight: 0, probeSuccesses: 0 });
      calls(breaker, successes(2));
      expect(breaker.state).toBe("closed");
    });
  });

  it.each([
    ["both windowMs and windowSize", { windowMs: 1_000, windowSize: 10 }],
    ["minimumCalls above windowSize", { windowMs: undefined, windowSize: 5, minimumCalls: 10 }],
    ["a failure-rate threshold of 0", { failureRateThreshold: 0 }],
    ["a slow-call threshold above 1", { slowCallRateThreshold: 1.5 }],
    ["no probes in half-open", { halfOpenMaxProbes: 0 }],
    ["a fractional openMs", { openMs: 2.5 }],
    ["an unknown option", { threshold: 0.5 }],
  ])("rejects options with %s as ERR_SUPERVISOR_SPEC_INVALID", (_what, options) => {
    expect(codeOf(thrown(() => new CircuitBreaker({ ...base, ...options } as never, new FakeClock())))).toBe("ERR_SUPERVISOR_SPEC_INVALID");
  });

  it("documents its defaults: a 60 s time window of 10 steps, 10 calls, 50 % failures, 30 s open, 2 probes", () => {
    expect(new CircuitBreaker({}, new FakeClock()).options).toEqual({
      name: "breaker",
      origin: "",
      window: { kind: "time", ms: 60_000, buckets: 10 },
      minimumCalls: 10,
      failureRateThreshold: 0.5,
      slowCallDurationMs: 10_000,
      slowCallRateThreshold: 1,
      openMs: 30_000,
      halfOpenMaxProbes: 2,
      halfOpenSuccessesToClose: 2,
    });
  });
});

describe("withBreaker", () => {
  it("passes the result through and counts the call as a success", async () => {
    const { breaker } = setup();
    await expect(withBreaker(breaker, async () => 42)).resolves.toBe(42);
    expect(breaker.metrics()).toMatchObject({ calls: 1, failures: 0 });
  });

  it("passes the error through and counts the call as a failure", async () => {
    const { breaker } = setup();
    const boom = new Error("target down");
    await expect(
      withBreaker(breaker, () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(breaker.metrics()).toMatchObject({ calls: 1, failures: 1 });
  });

  it("counts errors that isFailure rejects as successes (the target answered)", async () => {
    const { breaker } = setup();
    await expect(withBreaker(breaker, () => Promise.reject(new Error("bad input")), { isFailure: () => false })).rejects.toThrow("bad input");
    expect(breaker.metrics()).toMatchObject({ calls: 1, failures: 0 });
  });

  it("fails fast with ERR_BREAKER_OPEN without calling fn when the breaker is open", async () => {
    const { breaker } = openBreaker();
    let called = false;
    const error = await withBreaker(breaker, () => {
      called = true;
    }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe("ERR_BREAKER_OPEN");
    expect(called).toBe(false);
  });

  it("answers with the fallback when the breaker refuses the call", async () => {
    const { breaker } = openBreaker();
    await expect(withBreaker(breaker, async () => "live", { fallback: (e) => `cached (${codeOf(e)})` })).resolves.toBe("cached (ERR_BREAKER_OPEN)");
  });

  it("does not use the fallback when fn itself fails", async () => {
    const { breaker } = setup();
    await expect(withBreaker(breaker, () => Promise.reject(new Error("down")), { fallback: () => "cached" })).rejects.toThrow("down");
  });

  it("times the call on the breaker's clock, so slow calls count as slow", async () => {
    const { clock, breaker } = setup({ windowMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      await withBreaker(breaker, () => {
        clock.advance(2_000);
        return "ok";
      });
    }
    expect(breaker.state).toBe("open");
  });
});
