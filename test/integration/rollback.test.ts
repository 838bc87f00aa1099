import { describe, expect, it } from "vitest";
import { TrustClient } from "../../actors/index.ts";
import { hasCode, type RollbackStep } from "../../protocols/index.ts";
import type { Node, NodeEvent } from "../../runtime/index.ts";
import { Inventory, Payment, Shipping, type OrderOutcome } from "../../examples/supply-chain/agents.ts";
import { Stepper } from "../support/chain-actors.ts";
import { startCluster, startNode, startServer } from "../support/nats.ts";

const placeOrder = async (node: Node, order: string): Promise<OrderOutcome> =>
  (await node.ref<typeof Inventory>("inventory").ask({ type: "order.place", order, sku: "widget", qty: 10, batch: "B-7" })) as OrderOutcome;

const reserveJti = async (node: Node, wid: string): Promise<string> =>
  ((await node.assurance.store.listWorkflow(wid)).find((r) => r.exec_act === "reserve_batch") as { jti: string }).jti;

describe("rollback along the action DAG", () => {
  it("undoes the supply chain across three nodes of a cluster: payment, then shipping, then inventory", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const journal: string[] = [];
    await using a = await startNode(u1, { jetstreamReplicas: 3 });
    await using b = await startNode(u2, { jetstreamReplicas: 3 });
    await using c = await startNode(u3, { jetstreamReplicas: 3 });
    await a.spawn("inventory", Inventory, { args: [journal] });
    await b.spawn("shipping", Shipping, { args: [journal] });
    await c.spawn("payment", Payment, { args: [journal] });
    await new Promise((r) => setTimeout(r, 300)); // subscription interest reaches every server
    const outcome = await placeOrder(a, "O-1");
    expect(outcome).toMatchObject({ shipment: "SHP-O-1", charged: 120 });
    expect(journal).toEqual(["inventory: reserved 10 widget from batch B-7", "shipping: dispatched SHP-O-1", "payment: charged 120 for O-1"]);

    // the batch was wrong: roll back the inventory action and everything it caused, from another node
    const steps: RollbackStep[] = [];
    c.onEvent((e: NodeEvent) => e.type === "rollback-step" && steps.push(e.step));
    const from = await reserveJti(a, outcome.workflowId as string);
    const report = await c.rollback({ workflow: outcome.workflowId as string, from, cause: { agent: "inventory", reason: "reserved from the wrong batch" } });
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => [s.actor, s.compensation, s.outcome])).toEqual([
      ["payment", "refund_payment", "compensated"],
      ["shipping", "recall_shipment", "compensated"],
      ["inventory", "release_batch", "compensated"],
    ]);
    expect(steps.map((s) => s.actor)).toEqual(["payment", "shipping", "inventory"]);
    expect(journal.slice(3)).toEqual(["payment: refunded 120", "shipping: recalled SHP-O-1", "inventory: released 10 widget back to stock (batch B-7)"]);
    expect(await a.ref<typeof Inventory>("inventory").ask({ type: "stock.get", sku: "widget" })).toBe(100);
    expect(await b.ref<typeof Shipping>("shipping").ask({ type: "shipments.count" })).toBe(0);
    expect(await c.ref<typeof Payment>("payment").ask({ type: "balance" })).toBe(0);

    // every compensation is itself an action in the DAG, whose parent is the action it undid
    const records = await a.assurance.store.listWorkflow(outcome.workflowId as string);
    for (const step of report.steps) {
      const comp = records.find((r) => r.exec_act === `compensate:${step.compensation}`);
      expect(comp?.par).toEqual([step.jti]);
      expect(comp?.outcome).toBe("ok");
    }
    // the named cause is blamed once, in a record signed by the node that ran the rollback (c), parented
    // to the action the rollback started from; the trust actor reads it from the stream as rollback-caused
    expect(records.find((r) => r.jti === report.causeEct)).toMatchObject({ exec_act: "tether.rollback.caused", actor: "inventory", par: [from] });
    const trust = await new TrustClient().attach(b).start();
    await trust.ingestAll();
    expect((await trust.show("inventory")).recent.filter((e) => e.outcome === "rollback-caused")).toMatchObject([{ observer: `node:${c.id}` }]);
    for (const agent of ["shipping", "payment"]) expect((await trust.show(agent)).recent.filter((e) => e.outcome === "rollback-caused")).toEqual([]);

    // a second rollback finds nothing left to do
    const again = await c.rollback({ workflow: outcome.workflowId as string });
    expect(again.steps.map((s) => s.outcome)).toEqual(["already-compensated", "already-compensated", "already-compensated"]);
    expect(journal).toHaveLength(6);
  });

  it("retries a failing compensation, then escalates and stops without touching the parents", async () => {
    await using server = await startServer();
    const journal: string[] = [];
    await using node = await startNode(server.url);
    await node.spawn("inventory", Inventory, { args: [journal] });
    await node.spawn("shipping", Shipping, { args: [journal] });
    await node.spawn("payment", Payment, { args: [journal, 4] }); // the bank is down for four refund attempts
    const outcome = await placeOrder(node, "O-2");
    const escalations: NodeEvent[] = [];
    node.onEvent((e) => e.type === "rollback-escalated" && escalations.push(e));
    const first = await node.rollback({ workflow: outcome.workflowId as string, attempts: 3, backoffMs: 10 });
    expect(first.ok).toBe(false);
    expect(first.steps.map((s) => [s.actor, s.outcome, s.attempts])).toEqual([
      ["payment", "failed", 3],
      ["shipping", "pending", 0],
      ["inventory", "pending", 0],
    ]);
    expect(first.steps[0]?.error?.code).toBe("ERR_ACTOR_HANDLER_FAILED");
    expect(escalations).toHaveLength(1);
    expect(await node.ref<typeof Shipping>("shipping").ask({ type: "shipments.count" })).toBe(1); // untouched
    // the bank comes back: a second rollback retries the refund (one more failure, then success) and finishes
    const second = await node.rollback({ workflow: outcome.workflowId as string, attempts: 3, backoffMs: 10 });
    expect(second.ok).toBe(true);
    expect(second.steps.map((s) => s.outcome)).toEqual(["compensated", "compensated", "compensated"]);
    expect(journal.filter((l) => l.includes("refund attempt"))).toHaveLength(4);
  });

  it("refuses malformed or unknown rollback requests with ERR_ROLLBACK_INVALID, and reports actions with no compensate()", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    for (const bad of [{}, { workflow: "not-a-uuid" }, { workflow: "7c9e6679-7425-40de-944b-e07fc1f66afe" }, { workflow: "7c9e6679-7425-40de-944b-e07fc1f66afe", attempts: 0 }]) {
      await expect(node.rollback(bad as never)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ROLLBACK_INVALID"));
    }
    await node.spawn("s", Stepper);
    const r = await node.ref<typeof Stepper>("s").ask({ type: "step", hops: [{ actor: "s", action: "plain" }] });
    await expect(node.rollback({ workflow: r.wid as string, from: "no-such-jti" })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ROLLBACK_INVALID"));
    const report = await node.rollback({ workflow: r.wid as string });
    expect(report.steps.map((s) => s.outcome)).toEqual(["not-compensable"]); // recorded without a compensation
  });
});
