import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../runtime/index.ts";
import { Bulkhead, type Release } from "../../../supervisors/index.ts";
import { codeOf, flush, thrown, track } from "./support.ts";

describe("Bulkhead", () => {
  it("lets maxConcurrent callers in at once", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 3 }, new FakeClock());
    await Promise.all([bulkhead.acquire(), bulkhead.acquire(), bulkhead.acquire()]);
    expect(bulkhead.inFlight).toBe(3);
  });

  it("with the default maxQueue of 0, rejects with ERR_BULKHEAD_FULL as soon as every slot is taken", async () => {
    const bulkhead = new Bulkhead({ name: "pharmacist", maxConcurrent: 1 }, new FakeClock());
    await bulkhead.acquire();
    const error = await bulkhead.acquire().catch((e: unknown) => e);
    expect(codeOf(error)).toBe("ERR_BULKHEAD_FULL");
    expect(error).toMatchObject({ retryable: true, details: { bulkhead: "pharmacist", maxConcurrent: 1, maxQueue: 0 } });
  });

  it("queues up to maxQueue callers and rejects the next one at once", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 2 }, new FakeClock());
    await bulkhead.acquire();
    const waiting = [track(bulkhead.acquire()), track(bulkhead.acquire())];
    const refused = track(bulkhead.acquire());
    await flush();
    expect(waiting.map((w) => w.state)).toEqual(["pending", "pending"]);
    expect(refused.state).toBe("rejected");
    expect(codeOf(refused.error)).toBe("ERR_BULKHEAD_FULL");
    expect(bulkhead.queued).toBe(2);
  });

  it("serves queued callers first come, first served as slots free", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 2, maxQueue: 10 }, new FakeClock());
    const holders = [await bulkhead.acquire(), await bulkhead.acquire()];
    const order: number[] = [];
    const waiters = [0, 1, 2, 3].map((i) =>
      bulkhead.acquire().then((release) => {
        order.push(i);
        return release;
      }),
    );
    holders[1]?.();
    await flush();
    expect(order).toEqual([0]);
    holders[0]?.();
    await flush();
    expect(order).toEqual([0, 1]);
    for (const r of await Promise.all(waiters.slice(0, 2))) r();
    await flush();
    expect(order).toEqual([0, 1, 2, 3]);
    expect(bulkhead.inFlight).toBe(2);
  });

  it("hands a freed slot to the oldest waiter, never to a newcomer", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 }, new FakeClock());
    const release = await bulkhead.acquire();
    const waiter = track(bulkhead.acquire());
    release();
    expect(bulkhead.tryAcquire()).toBeUndefined();
    await flush();
    expect(waiter.state).toBe("fulfilled");
    expect(bulkhead.inFlight).toBe(1);
  });

  it("frees only one slot when a release function is called twice", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 2 }, new FakeClock());
    const first = await bulkhead.acquire();
    await bulkhead.acquire();
    first();
    first();
    expect(bulkhead.inFlight).toBe(1);
    expect(bulkhead.tryAcquire()).toBeTypeOf("function");
    expect(bulkhead.tryAcquire()).toBeUndefined();
  });

  it("cancels a waiting caller through its signal with ERR_BULKHEAD_ABORTED and gives its place up", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 }, new FakeClock());
    const release = await bulkhead.acquire();
    const controller = new AbortController();
    const cancelled = track(bulkhead.acquire({ signal: controller.signal }));
    controller.abort(new Error("caller gave up"));
    await flush();
    expect(cancelled.state).toBe("rejected");
    expect(codeOf(cancelled.error)).toBe("ERR_BULKHEAD_ABORTED");
    expect((cancelled.error as Error).cause).toEqual(new Error("caller gave up"));
    expect(bulkhead.queued).toBe(0);
    const next = track(bulkhead.acquire());
    release();
    await flush();
    expect(next.state).toBe("fulfilled");
  });

  it("rejects at once when the signal has already fired", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1 }, new FakeClock());
    const error = await bulkhead.acquire({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe("ERR_BULKHEAD_ABORTED");
    expect(bulkhead.inFlight).toBe(0);
  });

  it("ignores its signal once the slot is granted", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 }, new FakeClock());
    const release = await bulkhead.acquire();
    const controller = new AbortController();
    const waiter = track(bulkhead.acquire({ signal: controller.signal }));
    release();
    await flush();
    controller.abort();
    await flush();
    expect(waiter.state).toBe("fulfilled");
    expect(bulkhead.inFlight).toBe(1);
  });

  it("times a waiting caller out after queueTimeoutMs on the clock with ERR_BULKHEAD_TIMEOUT", async () => {
    const clock = new FakeClock();
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 5, queueTimeoutMs: 1_000 }, clock);
    await bulkhead.acquire();
    const waiter = track(bulkhead.acquire());
    const patient = track(bulkhead.acquire({ timeoutMs: 5_000 }));
    clock.advance(999);
    await flush();
    expect(waiter.state).toBe("pending");
    clock.advance(1);
    await flush();
    expect(waiter.state).toBe("rejected");
    expect(codeOf(waiter.error)).toBe("ERR_BULKHEAD_TIMEOUT");
    expect(waiter.error).toMatchObject({ details: { waitedMs: 1_000 } });
    expect(patient.state).toBe("pending");
    expect(bulkhead.queued).toBe(1);
  });

  it("clears a waiter's timer once it is granted a slot", async () => {
    const clock = new FakeClock();
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 1_000 }, clock);
    const release = await bulkhead.acquire();
    const waiter = bulkhead.acquire();
    expect(clock.pending).toBe(1);
    release();
    const second: Release = await waiter;
    expect(clock.pending).toBe(0);
    clock.advance(5_000);
    second();
    expect(bulkhead.inFlight).toBe(0);
  });

  it.each([
    ["a zero maxConcurrent", { maxConcurrent: 0 }],
    ["a negative maxQueue", { maxConcurrent: 1, maxQueue: -1 }],
    ["a fractional queueTimeoutMs", { maxConcurrent: 1, queueTimeoutMs: 0.5 }],
    ["an unknown option", { maxConcurrent: 1, queue: 3 }],
  ])("rejects options with %s as ERR_SUPERVISOR_SPEC_INVALID", (_what, options) => {
    expect(codeOf(thrown(() => new Bulkhead(options as never, new FakeClock())))).toBe("ERR_SUPERVISOR_SPEC_INVALID");
  });

  it("rejects a per-call timeout that is not a positive number", async () => {
    const bulkhead = new Bulkhead({ maxConcurrent: 1, maxQueue: 1 }, new FakeClock());
    const error = await bulkhead.acquire({ timeoutMs: -5 }).catch((e: unknown) => e);
    expect(codeOf(error)).toBe("ERR_SUPERVISOR_SPEC_INVALID");
  });
});
