import { describe, expect, it } from "vitest";
import { DeferredEvidence } from "../../runtime/internal.ts";

describe("DeferredEvidence (override acknowledgement ECTs off the ack path)", () => {
  it("runs nothing in the caller's turn, then everything queued, in chunks, passing failures on", async () => {
    const errors: unknown[] = [];
    const q = new DeferredEvidence({ chunk: 4, onError: (e) => errors.push(e) });
    const ran: number[] = [];
    for (let i = 0; i < 10; i++) q.add(async () => (i === 3 ? Promise.reject(new Error("ledger down")) : ran.push(i)));
    expect(ran).toEqual([]); // the acks that queued these go out first
    expect(q.pending).toBe(10);
    await q.settled();
    expect(ran).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
    expect(errors).toHaveLength(1);
    expect(q.pending).toBe(0);
  });

  it("lets other work in between chunks", async () => {
    const q = new DeferredEvidence({ chunk: 2, onError: () => undefined });
    const order: string[] = [];
    for (let i = 0; i < 6; i++) q.add(async () => order.push(`e${i}`));
    setImmediate(() => setImmediate(() => order.push("other")));
    await q.settled();
    expect(order.indexOf("other")).toBeGreaterThan(0);
    expect(order.indexOf("other")).toBeLessThan(order.length - 1);
  });
});
