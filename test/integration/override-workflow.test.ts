import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { z } from "zod";
import { Actor, OverrideClient, createOverridePorts } from "../../actors/index.ts";
import { OverrideAck, decodeBody, hasCode, overrideSubjects } from "../../protocols/index.ts";
import type { ActorContext } from "../../runtime/index.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";
import { Worker, journal, keyDir, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const RelayMsg = z.strictObject({ type: z.literal("relay"), first: z.array(z.string()), later: z.string() });
/** Latches the test opens: the relay's second message of the workflow waits for it. */
const gates = { release: () => undefined as void, wid: undefined as string | undefined };

/** Starts a workflow (its first act), sends its first message at once and the second only when released. */
class Relay extends Actor<z.infer<typeof RelayMsg>, undefined> {
  static override readonly protocol = RelayMsg;
  async handle(msg: z.infer<typeof RelayMsg>, ctx: ActorContext): Promise<unknown> {
    await ctx.act("relay", {}, () => undefined);
    gates.wid = ctx.workflowId;
    for (const to of msg.first) await ctx.ref(to).tell({ type: "work", seq: 1, ms: 60_000 });
    await new Promise<void>((resolve) => (gates.release = resolve));
    await ctx.ref(msg.later).tell({ type: "work", seq: 2, ms: 0 });
    return ctx.workflowId;
  }
}

describe("a workflow-scoped override on a 3-node cluster", () => {
  it("holds an actor that receives a message of the workflow after the signal, and fencing re-applies it when that actor fails over", { timeout: 120_000 }, async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const fast = { jetstreamReplicas: 3, heartbeatMs: 500, leaseTtlMs: 3_000 };
    await using victim = new TetherProcess(["node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", "3000", "--node-id", "wf-victim", "--agents", "test/fixtures/override-agents.ts"]);
    await victim.waitFor(/node wf-victim up .*hosting w-fo/, 45_000);
    await using b = await startNode(u2, { ...fast, nodeId: "wf-b" });
    await using c = await startNode(u3, { ...fast, nodeId: "wf-c" });
    await startOversight(b);
    for (const n of [b, c]) n.registerType(Worker); // either can take w-fo over
    const relay = await b.spawn("relay", Relay);
    await c.spawn("w-first", Worker);
    const other = await c.spawn("w-other", Worker);
    const { operator } = await operatorKeys(b);
    const client = new OverrideClient({ nc: b.nats, signer: operator });
    const acks: OverrideAck[] = [];
    const subjects = overrideSubjects(b.network);

    // w-queue is busy with other work (no workflow): the workflow's message will wait in its queue
    const queueWorker = await c.spawn("w-queue", Worker);
    const otherWork = queueWorker.ask({ type: "work", seq: 10, ms: 2_000 }, { timeoutMs: 30_000 });
    await eventually(() => journal.get("w-queue")?.handled.length === 1, 10_000, "w-queue busy");
    const run = relay.ask({ type: "relay", first: ["w-queue", "w-first"], later: "w-fo" }, { timeoutMs: 60_000 });
    run.catch(() => undefined);
    await eventually(() => journal.get("w-first")?.handled.length === 1, 10_000, "w-first busy with the workflow");
    const wid = gates.wid ?? "";
    expect(wid).not.toBe("");
    b.nats.subscribe(subjects.acks("x").replace(/\.x$/, ".*"), { callback: (_e, m) => void acks.push(OverrideAck.parse(decodeBody(m.data))) });
    await b.nats.flush();

    const stop = await client.issue({ action: "stop", scope: { kind: "workflow", wid }, reason: "bad workflow" });
    expect(stop.coverage.acked.get("w-first")).toMatchObject({ aborted: true }); // its handler in flight carries the workflow
    expect(journal.get("w-first")?.aborted).toEqual(["ERR_ACTOR_STOPPED_BY_OVERRIDE"]);
    // w-queue has a message of the workflow queued: caught, its other handler not aborted
    await eventually(() => acks.some((a) => a.actorId === "w-queue"), 10_000, "w-queue caught");
    expect(acks.find((a) => a.actorId === "w-queue")).toMatchObject({ overrideId: stop.id, aborted: false, queued: 1 });
    expect(await otherWork).toBe(10); // finished normally
    expect(journal.get("w-queue")?.handled).toEqual([10]); // the workflow's message did not run

    // later: a message of the workflow reaches w-fo (on the victim node): it is caught before it runs
    gates.release();
    expect(await run).toBe(wid);
    await eventually(() => acks.some((a) => a.actorId === "w-fo"), 10_000, "w-fo caught and acknowledging");
    expect(acks.find((a) => a.actorId === "w-fo")).toMatchObject({ overrideId: stop.id, nodeId: "wf-victim", outcome: "applied", queued: 1, aborted: false });
    await expect(b.ref("w-fo").ask({ type: "work", seq: 3, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));
    expect(await other.ask({ type: "work", seq: 4, ms: 0 })).toBe(4); // no message of the workflow: untouched
    // the override actor keeps who was caught, for fencing anywhere
    const { store } = await createOverridePorts(c);
    await eventually(async () => (await store.get(stop.id))?.caught?.toSorted().join() === "w-first,w-fo,w-queue", 10_000, "caught actors persisted");

    // w-fo's node dies: w-fo comes up on a survivor still stopped, before it handles anything
    const before = acks.length;
    victim.child.kill("SIGKILL");
    await victim.exited;
    await eventually(() => b.localActors().includes("w-fo") || c.localActors().includes("w-fo"), 40_000, "w-fo failed over");
    await eventually(() => acks.slice(before).some((a) => a.actorId === "w-fo"), 10_000, "fenced acknowledgement from the new node");
    expect(acks.slice(before).find((a) => a.actorId === "w-fo")).toMatchObject({ overrideId: stop.id, outcome: "applied", fenced: true });
    await expect(b.ref("w-fo").ask({ type: "work", seq: 5, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));

    await client.lift(stop.id);
    await eventually(async () => (await b.ref("w-fo").ask({ type: "work", seq: 6, ms: 0 }).catch(() => -1)) === 6, 10_000, "w-fo works after the lift");
  });
});
