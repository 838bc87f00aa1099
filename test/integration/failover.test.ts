import { describe, expect, it } from "vitest";
import type { NodeEvent } from "../../runtime/index.ts";
import { OrderBook } from "../fixtures/durable-agents.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

type Summary = { count: number; distinct: number; orders: number[] };

describe("failover on a 3-node cluster", () => {
  it("re-activates a SIGKILLed node's durable actor on a survivor, from its checkpoint, losing no acknowledged message", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const fast = { jetstreamReplicas: 3, heartbeatMs: 500, leaseTtlMs: 3_000, durableAckWaitMs: 1_000 };
    await using child = new TetherProcess(["node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", "3000", "--node-id", "victim", "--agents", "test/fixtures/durable-agents.ts"]);
    await child.waitFor(/node victim up .*hosting orders/, 45_000);
    await using b = await startNode(u2, fast);
    await using c = await startNode(u3, fast);
    for (const n of [b, c]) n.registerType(OrderBook, { args: [0], durable: true });
    const events: NodeEvent[] = [];
    for (const n of [b, c]) n.onEvent((e) => (e.type === "actor-failed-over" || e.type === "node-dead") && events.push(e));

    const ref = b.ref<typeof OrderBook>("orders");
    for (let n = 0; n < 150; n++) await ref.send({ type: "order", n });
    await eventually(async () => ((await ref.ask({ type: "summary" }).catch(() => ({ count: 0 }))) as Summary).count >= 15, 30_000, "progress");
    const killedAt = Date.now();
    child.child.kill("SIGKILL");
    await child.exited;
    await eventually(() => events.some((e) => e.type === "actor-failed-over"), 40_000, "failover");
    const failoverMs = Date.now() - killedAt;
    const moved = events.find((e) => e.type === "actor-failed-over") as Extract<NodeEvent, { type: "actor-failed-over" }>;
    expect(moved).toMatchObject({ actorId: "orders", from: "victim" });
    expect([b.id, c.id]).toContain(moved.to);
    expect(failoverMs).toBeLessThan(40_000);
    await eventually(async () => ((await ref.ask({ type: "summary" })) as Summary).distinct === 150, 60_000, "all 150 orders");
    const s = (await ref.ask({ type: "summary" })) as Summary;
    expect(s.count).toBe(150); // each acknowledged message applied once to the state
    expect((await b.listActors()).find((r) => r.actorId === "orders")?.nodeId).toBe(moved.to);
  });

  it("fences a node that comes back after being declared dead: it stops its stale copy", async () => {
    await using cluster = await startCluster();
    const [u1, u2] = cluster.urls as [string, string];
    await using child = new TetherProcess(["node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", "3000", "--node-id", "sleeper", "--agents", "test/fixtures/durable-agents.ts"]);
    await child.waitFor(/node sleeper up .*hosting orders/, 45_000);
    await using b = await startNode(u2, { jetstreamReplicas: 3, heartbeatMs: 500, leaseTtlMs: 3_000 });
    b.registerType(OrderBook, { args: [0], durable: true });
    const ref = b.ref<typeof OrderBook>("orders");
    for (let n = 0; n < 5; n++) await ref.send({ type: "order", n });
    await eventually(async () => ((await ref.ask({ type: "summary" }).catch(() => ({ count: 0 }))) as Summary).count === 5, 30_000, "first orders");

    child.child.kill("SIGSTOP"); // paused, not dead: its lease lapses and b takes over
    await eventually(() => b.localActors().includes("orders"), 40_000, "takeover by b");
    child.child.kill("SIGCONT");
    // the revived node must stop its stale copy (told by b, or on its own lease check), and keep running
    await child.waitFor(/fenced orders/, 40_000);
    expect(child.child.exitCode).toBeNull();
    for (let n = 5; n < 10; n++) await ref.send({ type: "order", n });
    await eventually(async () => ((await ref.ask({ type: "summary" })) as Summary).distinct === 10, 30_000, "later orders on b");
    expect(((await ref.ask({ type: "summary" })) as Summary).count).toBe(10); // nothing applied twice
    expect((await b.listActors()).find((r) => r.actorId === "orders")?.nodeId).toBe(b.id);
  });
});
