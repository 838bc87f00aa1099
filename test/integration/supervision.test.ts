import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import type { ActorContext } from "../../runtime/index.ts";
import { Supervisor, constantBackoff, defineSupervisor, type SupervisorEvent } from "../../supervisors/index.ts";
import { hasCode, type CompensationRequest } from "../../protocols/index.ts";
import type { Node } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const worker = (id: string, restart: "permanent" | "transient" | "temporary" = "permanent") => ({ id, start: () => new Counter(), restart });
const value = (node: Node, id: string) => node.ref<typeof Counter>(id).ask({ type: "get" });
const fail = (node: Node, id: string) => node.ref<typeof Counter>(id).ask({ type: "fail", reason: "boom" }).catch(() => undefined);

describe("supervision trees", () => {
  it("one_for_one restarts only the failed child (fresh state); its siblings keep theirs", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await using sup = await Supervisor.start(node, defineSupervisor({ id: "root", strategy: "one_for_one", backoff: constantBackoff({ delayMs: 10 }), children: [worker("a"), worker("b")] }));
    await node.ref<typeof Counter>("a").ask({ type: "add", n: 5 });
    await node.ref<typeof Counter>("b").ask({ type: "add", n: 7 });
    await fail(node, "a");
    await eventually(() => sup.restarts === 1, 5_000, "a restart");
    expect(await value(node, "a")).toBe(0);
    expect(await value(node, "b")).toBe(7);
  });

  it("rest_for_one restarts the failed child and those started after it, in order", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const events: SupervisorEvent[] = [];
    await using sup = await Supervisor.start(
      node,
      defineSupervisor({ id: "pipeline", strategy: "rest_for_one", backoff: constantBackoff({ delayMs: 10 }), children: [worker("first"), worker("second"), worker("third")] }),
    );
    sup.onEvent((e) => events.push(e));
    for (const id of ["first", "second", "third"]) await node.ref<typeof Counter>(id).ask({ type: "add", n: 1 });
    await fail(node, "second");
    await eventually(() => events.some((e) => e.type === "children-restarted"), 5_000, "restart");
    expect(events.find((e) => e.type === "children-restarted")).toMatchObject({ children: ["second", "third"] });
    expect([await value(node, "first"), await value(node, "second"), await value(node, "third")]).toEqual([1, 0, 0]);
  });

  it("gives up past its restart intensity: stops the subtree and raises an operator-visible event", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const events: SupervisorEvent[] = [];
    const sup = await Supervisor.start(
      node,
      defineSupervisor({ id: "fragile", intensity: { maxRestarts: 2, withinMs: 60_000 }, backoff: constantBackoff({ delayMs: 5 }), children: [worker("x"), worker("y")] }),
    );
    sup.onEvent((e) => events.push(e));
    for (let i = 0; i < 3; i++) {
      await fail(node, "x");
      await eventually(() => events.filter((e) => e.type === "children-restarted" || e.type === "gave-up").length === i + 1, 5_000, `failure ${i + 1}`);
    }
    expect(events.at(-1)).toMatchObject({ type: "gave-up", supervisor: "fragile", child: "x" });
    expect(node.localActors()).toEqual([]); // the whole subtree stopped
    await sup.stop();
  });

  it("escalates a nested supervisor's give-up to its parent, which restarts that subtree", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const inner = defineSupervisor({ id: "inner", intensity: { maxRestarts: 0, withinMs: 60_000 }, backoff: constantBackoff({ delayMs: 5 }), children: [worker("leaf")] });
    await using root = await Supervisor.start(node, defineSupervisor({ id: "outer", backoff: constantBackoff({ delayMs: 5 }), children: [worker("sibling"), inner] }));
    await node.ref<typeof Counter>("sibling").ask({ type: "add", n: 3 });
    await fail(node, "leaf");
    await eventually(() => root.restarts === 1, 5_000, "outer restarts inner");
    await eventually(async () => (await value(node, "leaf").catch(() => -1)) === 0, 5_000, "leaf back");
    expect(await value(node, "sibling")).toBe(3); // one_for_one at the outer level
  });

  it("does not restart temporary children, nor transient ones that exit normally, and rejects bad specs", async () => {
    expect(() => defineSupervisor({ id: "bad", children: [worker("dup"), worker("dup")] })).toThrow(expect.objectContaining({ code: "ERR_SUPERVISOR_SPEC_INVALID" }));
    let error: unknown;
    try {
      defineSupervisor({ id: "bad", strategy: "one_for_most" as never, children: [] });
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_SUPERVISOR_SPEC_INVALID")).toBe(true);
    await using server = await startServer();
    await using node = await startNode(server.url);
    await using sup = await Supervisor.start(node, defineSupervisor({ id: "t", backoff: constantBackoff({ delayMs: 5 }), children: [worker("temp", "temporary")] }));
    await fail(node, "temp");
    await new Promise((r) => setTimeout(r, 200));
    expect(sup.restarts).toBe(0);
  });
});

const ChargeMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("charge"), amount: z.number().positive() }),
  z.strictObject({ type: z.literal("crash") }),
]);
type ChargeMsg = z.infer<typeof ChargeMsg>;

/** Charges with a compensation; crashes on demand. */
class Charger extends Actor<ChargeMsg> {
  static override readonly protocol = ChargeMsg;
  constructor(readonly journal: string[]) {
    super();
  }
  async handle(msg: ChargeMsg, ctx: ActorContext) {
    if (msg.type === "crash") throw new Error("card processor down");
    return ctx.act("charge", { amount: msg.amount }, () => {
      this.journal.push(`charged ${msg.amount}`);
      return msg.amount;
    }, { compensate: "refund" });
  }
  compensate(req: CompensationRequest): void {
    this.journal.push(`refunded ${String(req.result)}`);
  }
}

describe("supervisor-driven rollback", () => {
  it("compensates what a failed child did since it started (newest first) before restarting it", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const journal: string[] = [];
    const events: SupervisorEvent[] = [];
    await using sup = await Supervisor.start(
      node,
      defineSupervisor({ id: "billing", onFailure: "rollback", backoff: constantBackoff({ delayMs: 5 }), children: [{ id: "charger", start: () => new Charger(journal) }] }),
    );
    sup.onEvent((e) => events.push(e));
    await node.ref<typeof Charger>("charger").ask({ type: "charge", amount: 10 });
    await node.ref<typeof Charger>("charger").ask({ type: "charge", amount: 20 });
    await node.ref<typeof Charger>("charger").ask({ type: "crash" }).catch(() => undefined);
    await eventually(() => events.some((e) => e.type === "children-restarted"), 10_000, "restart");
    expect(journal).toEqual(["charged 10", "charged 20", "refunded 20", "refunded 10"]);
    const rolled = events.find((e) => e.type === "rolled-back") as Extract<SupervisorEvent, { type: "rolled-back" }>;
    expect(rolled.reports.every((r) => r.ok)).toBe(true);
    expect(events.findIndex((e) => e.type === "rolled-back")).toBeLessThan(events.findIndex((e) => e.type === "children-restarted"));
  });
});
