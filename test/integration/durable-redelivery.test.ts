import { describe, expect, it } from "vitest";
import { OrderBook } from "../fixtures/durable-agents.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

type Summary = { count: number; distinct: number; orders: number[] };
/** Asks for the summary until it gets one: the mailbox may be full of redelivered copies for a moment. */
const summary = async (ref: { ask(m: { type: "summary" }): Promise<unknown> }): Promise<Summary> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await ref.ask({ type: "summary" })) as Summary;
    } catch (error) {
      if (attempt === 50) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
};

describe("the durable lane when JetStream redelivers what still waits in the mailbox", () => {
  it("applies each message once although its ack wait runs out many times before the original is handled", async () => {
    await using server = await startServer();
    // ack wait far shorter than the time a message waits in the mailbox: every message is redelivered
    // (often more than once) while its original is still queued, and copies queue behind originals
    await using node = await startNode(server.url, { durableAckWaitMs: 300 });
    await node.spawn("slow-orders", OrderBook, { durable: true, args: [10], mailboxCapacity: 400 });
    const ref = node.ref<typeof OrderBook>("slow-orders");
    const N = 300;
    await Promise.all(Array.from({ length: N }, (_, n) => ref.send({ type: "order", n }, { id: `o-${n}` })));
    await eventually(async () => (await summary(ref)).distinct === N, 60_000, `all ${N} orders`);
    await new Promise((r) => setTimeout(r, 2_000)); // copies still queued get their turn
    const s = await summary(ref);
    const twice = s.orders.filter((n, i) => s.orders.indexOf(n) !== i);
    expect(twice).toEqual([]);
    expect(s.count).toBe(N);
  }, 90_000);
});
