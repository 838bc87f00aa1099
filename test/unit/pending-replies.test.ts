import { describe, expect, it } from "vitest";
import { FakeClock } from "../../runtime/index.ts";
import { PendingReplies } from "../../runtime/internal.ts";
import { TetherError, hasCode } from "../../protocols/index.ts";

describe("PendingReplies", () => {
  it("resolves a waiter with the reply for its id", async () => {
    const pending = new PendingReplies(new FakeClock(1_000));
    const p = pending.wait("a", "target", 100);
    expect(pending.resolve("a", 42)).toBe(true);
    await expect(p).resolves.toBe(42);
    expect(pending.size).toBe(0);
  });

  it("ignores a reply for an id nobody waits for", () => {
    const pending = new PendingReplies(new FakeClock());
    expect(pending.resolve("nobody", 1)).toBe(false);
  });

  it("times out after timeoutMs (within one tick) with ERR_ASK_TIMEOUT on a fake clock", async () => {
    const clock = new FakeClock(10_000);
    const pending = new PendingReplies(clock, 25);
    const p = pending.wait("a", "slow-actor", 100);
    let settled = false;
    p.catch(() => (settled = true));
    clock.advance(99);
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(26);
    await expect(p).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ASK_TIMEOUT"));
    expect(pending.size).toBe(0);
    expect(clock.pending).toBe(0); // the sweep timer stops when nothing waits
  });

  it("does not time out a waiter that was answered", async () => {
    const clock = new FakeClock(0);
    const pending = new PendingReplies(clock, 25);
    const p = pending.wait("a", "t", 50);
    pending.resolve("a", "ok");
    clock.advance(1_000);
    await expect(p).resolves.toBe("ok");
  });

  it("rejects every waiter on rejectAll", async () => {
    const pending = new PendingReplies(new FakeClock());
    const a = pending.wait("a", "t", 1_000);
    const b = pending.wait("b", "t", 1_000);
    pending.rejectAll(new TetherError("ERR_NODE_STOPPED", "bye"));
    await expect(a).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_NODE_STOPPED"));
    await expect(b).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_NODE_STOPPED"));
  });

  it("tells which target an ask waits on", () => {
    const pending = new PendingReplies(new FakeClock());
    void pending.wait("x", "billing", 10).catch(() => undefined);
    expect(pending.ask("x")?.target).toBe("billing");
    expect(pending.ask("y")?.target).toBeUndefined();
  });
});
