import { describe, expect, it } from "vitest";
import { decodeEnvelope } from "../../protocols/index.ts";
import { FakeClock, resolveNodeOptions } from "../../runtime/index.ts";
import { TellFlow } from "../../runtime/internal.ts";

/** A TellFlow on a fake clock whose "connection" records what it publishes. */
const flowWith = (options: Record<string, number>) => {
  const clock = new FakeClock(1_000);
  const published: { subject: string; n: number }[] = [];
  const nc = {
    isClosed: () => false,
    publish: (subject: string, data: Uint8Array) => {
      const e = decodeEnvelope(data);
      if (e.kind === "credit") published.push({ subject, n: e.n });
    },
  };
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const core = { options: resolveNodeOptions(options), clock, nc, logger: silent };
  return { flow: new TellFlow(core as unknown as ConstructorParameters<typeof TellFlow>[0]), clock, published };
};

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe("TellFlow", () => {
  it("returns false once the window is used up and opens it again with credits", async () => {
    const { flow } = flowWith({ tellWindow: 3 });
    expect([flow.sent("a"), flow.sent("a"), flow.sent("a")]).toEqual([true, true, false]);
    expect(flow.hasRoom("b")).toBe(true); // windows are per target
    const ready = flow.ready("a");
    expect(await settled(ready)).toBe(false);
    flow.credit("a", 1);
    expect(await settled(ready)).toBe(true);
    expect(flow.hasRoom("a")).toBe(true);
  });

  it("resets a waiting sender's window when no credit comes back within tellCreditTimeoutMs", async () => {
    const { flow, clock } = flowWith({ tellWindow: 2, tellCreditTimeoutMs: 1_000 });
    flow.sent("a");
    flow.sent("a");
    const ready = flow.ready("a");
    clock.advance(999);
    expect(await settled(ready)).toBe(false);
    clock.advance(1);
    expect(await settled(ready)).toBe(true);
    expect(flow.hasRoom("a")).toBe(true);
  });

  it("keeps waiting past the timeout while credits still trickle in", async () => {
    const { flow, clock } = flowWith({ tellWindow: 4, tellCreditTimeoutMs: 1_000 });
    for (let i = 0; i < 6; i++) flow.sent("a"); // an ignoring sender overshot the window
    const ready = flow.ready("a");
    clock.advance(600);
    flow.credit("a", 1); // still 5 in flight: no room yet
    clock.advance(600);
    expect(await settled(ready)).toBe(false);
    flow.credit("a", 2);
    expect(await settled(ready)).toBe(true);
  });

  it("ignores credits for targets it never sent to (forged or late)", () => {
    const { flow } = flowWith({ tellWindow: 2 });
    flow.credit("ghost", 100);
    expect(flow.sent("ghost")).toBe(true);
  });

  it("returns credits in batches after the current run of handlers, and a remainder after tellCreditDelayMs", async () => {
    const { flow, clock, published } = flowWith({ tellCreditBatch: 3, tellCreditDelayMs: 10 });
    for (let i = 0; i < 4; i++) flow.handled("r.t.a"); // one run of handlers: one credit message
    flow.handled("r.t.b");
    expect(published).toEqual([]);
    await Promise.resolve();
    expect(published).toEqual([
      { subject: "r.t.a", n: 4 },
      { subject: "r.t.b", n: 1 },
    ]);
    flow.handled("r.t.b");
    clock.advance(9);
    expect(published).toHaveLength(2);
    clock.advance(1);
    expect(published[2]).toEqual({ subject: "r.t.b", n: 1 });
  });
});
