import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import type { ActorContext } from "../../runtime/index.ts";
import { CascadeMonitor, GuardedCalls, type CascadeEvent } from "../../supervisors/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const CallMsg = z.strictObject({ type: z.literal("call") });
type CallMsg = z.infer<typeof CallMsg>;

/** Calls the next agent of the chain; the last one (the "model") is down. */
class Link extends Actor<CallMsg> {
  static override readonly protocol = CallMsg;
  constructor(readonly next: string | undefined) {
    super();
  }
  async handle(_msg: CallMsg, ctx: ActorContext): Promise<string> {
    if (this.next === undefined) throw new Error("model overloaded");
    return (await ctx.ref<typeof Link>(this.next).ask({ type: "call" })) as string;
  }
}

describe("cascade detection and containment", () => {
  it("names the origin and the affected callers, and opens their breakers cluster-wide so callers degrade instead of hanging", async () => {
    await using server = await startServer();
    await using host = await startNode(server.url);
    await using client = await startNode(server.url);
    const detach = [CascadeMonitor.attach(host, { intervalMs: 100 }), CascadeMonitor.attach(client, { intervalMs: 100 })];
    // spreadThreshold 3: edge reports of the two nodes arrive in either order; judge the whole chain
    await using monitor = await CascadeMonitor.start(client, { intervalMs: 100, minimumCalls: 3, windowMs: 5_000, quarantineMs: 60_000, spreadThreshold: 3 });
    const cascades: CascadeEvent[] = [];
    monitor.onCascade((e) => cascades.push(e));
    await host.spawn("model", Link, { args: [undefined] });
    await host.spawn("planner", Link, { args: ["model"] });
    await host.spawn("frontend", Link, { args: ["planner"] });
    await using guard = await GuardedCalls.open(client);
    guard.breaker("frontend"); // the client's edge to the frontend follows the shared state

    for (let i = 0; i < 6; i++) await client.ref<typeof Link>("frontend").ask({ type: "call" }).catch(() => undefined);
    await eventually(() => cascades.length > 0, 10_000, "a cascade");
    expect(cascades[0]).toMatchObject({ origin: "model", affected: ["frontend", "planner"] });
    expect([...(cascades[0]?.quarantined ?? [])].sort()).toEqual(["frontend", "model", "planner"]);

    await eventually(() => guard.breaker("frontend").state === "open", 5_000, "the frontend's breaker opens on the client");
    const t0 = Date.now();
    const refused = await guard.ask<typeof Link>("frontend", { type: "call" }).catch((e: unknown) => e);
    expect(hasCode(refused, "ERR_BREAKER_OPEN")).toBe(true);
    expect(Date.now() - t0).toBeLessThan(100); // fail fast, no hang
    expect(await guard.ask<typeof Link>("frontend", { type: "call" }, { fallback: () => "cached answer" })).toBe("cached answer");
    // the failing subtree is paused too: even unguarded callers are refused at once, not left hanging
    const direct = await client.ref<typeof Link>("planner").ask({ type: "call" }).catch((e: unknown) => e);
    expect(hasCode(direct, "ERR_ACTOR_PAUSED")).toBe(true);
    for (const d of detach) d();
  });

  it("does not declare a cascade for a single failing agent whose callers are healthy", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const detach = CascadeMonitor.attach(node, { intervalMs: 100 });
    await using monitor = await CascadeMonitor.start(node, { intervalMs: 100, minimumCalls: 3 });
    await node.spawn("lonely", Link, { args: [undefined] });
    for (let i = 0; i < 6; i++) await node.ref<typeof Link>("lonely").ask({ type: "call" }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    expect(await monitor.evaluate()).toBeUndefined();
    detach();
  });

  it("is an actor: when the node running it dies, a node that registered it takes it over and keeps containing", async () => {
    await using server = await startServer();
    const fast = { heartbeatMs: 200, leaseTtlMs: 1_000 };
    await using a = await startNode(server.url, fast);
    await using b = await startNode(server.url, fast);
    await using c = await startNode(server.url, fast);
    const options = { intervalMs: 100, minimumCalls: 3, windowMs: 5_000, quarantineMs: 60_000, spreadThreshold: 3 };
    await using _onA = await CascadeMonitor.start(a, options);
    await using onB = CascadeMonitor.register(b, options);
    const seenOnB: CascadeEvent[] = [];
    onB.onCascade((e) => seenOnB.push(e));
    const detach = [CascadeMonitor.attach(b, { intervalMs: 100 }), CascadeMonitor.attach(c, { intervalMs: 100 })];
    expect((await b.whereIs("cascade-monitor"))?.record.nodeId).toBe(a.id);

    await a.nats.close(); // node a dies without releasing anything: its lease lapses
    await eventually(async () => (await b.whereIs("cascade-monitor"))?.record.nodeId === b.id, 15_000, "the monitor failed over to b");
    // claimed by b first, then subscribed: it answers once its spawn on b has finished
    await eventually(async () => (await onB.evaluate().then(() => true, () => false)), 10_000, "the monitor answering on b");

    await c.spawn("model2", Link, { args: [undefined] });
    await c.spawn("planner2", Link, { args: ["model2"] });
    await c.spawn("frontend2", Link, { args: ["planner2"] });
    for (let i = 0; i < 6; i++) await b.ref<typeof Link>("frontend2").ask({ type: "call" }).catch(() => undefined);
    await eventually(() => seenOnB.length > 0, 10_000, "a cascade contained by the monitor on b");
    expect(seenOnB[0]).toMatchObject({ origin: "model2", affected: ["frontend2", "planner2"] });
    for (const d of detach) d();
  });
});
