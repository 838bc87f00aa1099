import { describe, expect, it } from "vitest";
import { OrderBook } from "../fixtures/durable-agents.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

const summary = async (ref: { ask(m: { type: "summary" }): Promise<unknown> }) =>
  (await ref.ask({ type: "summary" })) as { count: number; distinct: number; orders: number[] };

describe("the durable (at-least-once) lane", () => {
  it("stores every sent message, delivers each once, and stores a re-sent id only once", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("orders", OrderBook, { durable: true });
    const ref = b.ref<typeof OrderBook>("orders");
    for (let n = 0; n < 50; n++) await ref.send({ type: "order", n }, { id: `order-${n}` });
    const again = await ref.send({ type: "order", n: 7 }, { id: "order-7" });
    expect(again).toEqual({ id: "order-7", duplicate: true });
    await eventually(async () => (await summary(ref)).count === 50, 10_000, "50 orders");
    expect(await summary(ref)).toMatchObject({ count: 50, distinct: 50 });
  });

  it("keeps messages sent while no node hosts the actor, and delivers them when it starts", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    const ref = a.ref<typeof OrderBook>("orders");
    await a.spawn("orders", OrderBook, { durable: true });
    await a.stopActor("orders");
    for (let n = 0; n < 10; n++) await ref.send({ type: "order", n });
    await using b = await startNode(server.url);
    await b.spawn("orders", OrderBook, { durable: true });
    await eventually(async () => (await summary(b.ref<typeof OrderBook>("orders"))).count === 10, 10_000, "10 orders");
  });

  it("processes every acknowledged message exactly once in state after the hosting process is SIGKILLed", async () => {
    await using server = await startServer();
    await using child = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "doomed", "--agents", "test/fixtures/durable-agents.ts"]);
    await child.waitFor(/node doomed up/);
    await using survivor = await startNode(server.url, { durableAckWaitMs: 1_000 });
    const ref = survivor.ref<typeof OrderBook>("orders");
    for (let n = 0; n < 200; n++) await ref.send({ type: "order", n }); // every one acknowledged (stored)
    await eventually(async () => ((await summary(ref).catch(() => ({ count: 0 }))) as { count: number }).count >= 20, 10_000, "some progress");
    child.child.kill("SIGKILL"); // mid-stream: the rest is in flight or not yet delivered
    await child.exited;
    // the dead node's lease (5 s) must lapse before its actor id can be claimed elsewhere
    await eventually(
      async () =>
        survivor
          .spawn("orders", OrderBook, { durable: true })
          .then(() => true)
          .catch(() => false),
      15_000,
      "takeover after the lease lapses",
    );
    await eventually(async () => (await summary(ref)).distinct === 200, 20_000, "all 200 orders");
    const s = await summary(ref);
    expect(s.count).toBe(200); // no duplicates in the state
    expect(s.orders.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});
