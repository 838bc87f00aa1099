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
    // the whole subtree stopped, and then the supervisor actor itself (a root that gives up frees its id)
    await eventually(() => node.localActors().length === 0, 5_000, "subtree and supervisor stopped");
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
    // a supervisor blames nobody: a child lost with its node, or a failure notice, does not prove fault
    expect(rolled.reports.every((r) => r.causeEct === undefined)).toBe(true);
  });
});

describe("children on other nodes", () => {
  it("places a child on another node, restarts it there on failure, and elsewhere when that node dies", async () => {
    const { startCluster } = await import("../support/nats.ts");
    const { TetherProcess } = await import("../support/processes.ts");
    await using cluster = await startCluster();
    const [u1, u2] = cluster.urls as [string, string];
    await using host = new TetherProcess(["node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", "5000", "--node-id", "worker-node", "--agents", "test/fixtures/agents.ts"]);
    await host.waitFor(/node worker-node up/, 45_000);
    await using home = await startNode(u2, { jetstreamReplicas: 3 });
    const events: SupervisorEvent[] = [];
    await using sup = await Supervisor.start(
      home,
      defineSupervisor({
        id: "dist",
        backoff: constantBackoff({ delayMs: 10 }),
        intensity: { maxRestarts: 5, withinMs: 60_000 },
        children: [worker("local-one"), { id: "remote-one", start: () => new Counter(), node: "worker-node" }],
      }),
      { watchMs: 250 },
    );
    sup.onEvent((e) => events.push(e));
    expect((await home.whereIs("remote-one"))?.record.nodeId).toBe("worker-node");
    const remote = home.ref<typeof Counter>("remote-one");
    await eventually(async () => (await remote.ask({ type: "add", n: 5 }).catch(() => -1)) === 5, 10_000, "remote child answers");

    await remote.ask({ type: "fail", reason: "bad input" }).catch(() => undefined); // fails on worker-node
    await eventually(() => sup.restarts === 1, 10_000, "remote restart");
    expect((await home.whereIs("remote-one"))?.record.nodeId).toBe("worker-node");
    await eventually(async () => (await remote.ask({ type: "get" }).catch(() => -1)) === 0, 10_000, "fresh state after restart");

    host.child.kill("SIGKILL"); // the child's node dies: that is the child's failure
    await host.exited;
    await eventually(() => sup.restarts === 2, 30_000, "restart after node death");
    expect((await home.whereIs("remote-one"))?.record.nodeId).toBe(home.id); // placed here: its node is gone
    expect(await remote.ask({ type: "get" })).toBe(0);
    expect(events.filter((e) => e.type === "child-failed").map((e) => (e as { child: string }).child)).toEqual(["remote-one", "remote-one"]);
  });
});

describe("failed restarts", () => {
  it("counts a restart that fails against the intensity, so the supervisor gives up instead of leaving the child down", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    let starts = 0;
    const events: SupervisorEvent[] = [];
    const sup = await Supervisor.start(
      node,
      defineSupervisor({
        id: "flaky-start",
        intensity: { maxRestarts: 2, withinMs: 60_000 },
        backoff: constantBackoff({ delayMs: 5 }),
        children: [
          {
            id: "needs-db",
            start: () => {
              starts++;
              if (starts > 1) throw new Error("database unreachable"); // every restart fails
              return new Counter();
            },
          },
        ],
      }),
    );
    sup.onEvent((e) => events.push(e));
    await fail(node, "needs-db");
    await eventually(() => events.some((e) => e.type === "gave-up"), 10_000, "give up");
    expect(starts).toBe(3); // the first start, then two failed restarts within the intensity
    await eventually(() => node.localActors().length === 0, 5_000, "subtree and supervisor stopped");
    await sup.stop();
  });
});
