import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { OverrideClient } from "../../actors/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { SupervisionHost, constantBackoff, defineSupervisor } from "../../supervisors/index.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { Worker, keyDir, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

/** A ward: one worker here, a nested night shift with a worker on each of the two other nodes. */
const ward = defineSupervisor({
  id: "ward",
  backoff: constantBackoff({ delayMs: 10 }),
  children: [
    { id: "ward-a", start: () => new Worker(), node: "st-a" },
    {
      kind: "supervisor",
      id: "ward-night",
      node: "st-b",
      backoff: constantBackoff({ delayMs: 10 }),
      children: [
        { id: "night-b", start: () => new Worker(), node: "st-b" },
        { id: "night-c", start: () => new Worker(), node: "st-c" },
      ],
    },
  ],
});

describe("a subtree-scoped override on a 3-node cluster", () => {
  it("resolves every actor under the supervisor from the tree itself, wherever each runs, and each acknowledges from its node", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    const opts = { jetstreamReplicas: 3 };
    await using a = await startNode(u1, { ...opts, nodeId: "st-a" });
    await using b = await startNode(u2, { ...opts, nodeId: "st-b" });
    await using c = await startNode(u3, { ...opts, nodeId: "st-c" });
    for (const n of [a, b, c]) {
      n.registerType(Worker);
      SupervisionHost.of(n).register(ward, { watchMs: 60_000 });
    }
    await SupervisionHost.of(a).start("ward");
    await startOversight(a);
    const outsider = await c.spawn("st-outsider", Worker);
    const { operator } = await operatorKeys(a);
    const client = new OverrideClient({ nc: b.nats, signer: operator });

    const stop = await client.issue({ action: "stop", scope: { kind: "subtree", id: "ward" }, reason: "ward incident" });
    const members = ["ward", "ward-a", "ward-night", "night-b", "night-c"];
    expect(stop.coverage.expected?.toSorted()).toEqual(members.toSorted());
    expect(stop.coverage.complete).toBe(true);
    const where = Object.fromEntries([...stop.coverage.acked.values()].map((ack) => [ack.actorId, ack.nodeId]));
    expect(where).toEqual({ ward: "st-a", "ward-a": "st-a", "ward-night": "st-b", "night-b": "st-b", "night-c": "st-c" });
    // the resolved members are in the operator-signed signal every node verified
    expect(c.overrides.active()[0]?.scope).toEqual({ kind: "subtree", id: "ward", members: ["ward-a", "ward-night", "night-b", "night-c"] });

    for (const id of ["ward-a", "night-b", "night-c"]) {
      await expect(a.ref(id).ask({ type: "work", seq: 1, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));
    }
    expect(await outsider.ask({ type: "work", seq: 7, ms: 0 })).toBe(7); // not under the supervisor

    // a root that is not a supervisor cannot be resolved: refused before anything is signed
    await expect(client.issue({ action: "pause", scope: { kind: "subtree", id: "st-outsider" }, reason: "x" })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_OVERRIDE_INVALID"));
    // ... unless members are named by hand (they are added to what the tree resolves)
    const manual = await client.issue({ action: "pause", scope: { kind: "subtree", id: "st-outsider", members: ["night-c"] }, reason: "by hand" });
    expect(manual.coverage.expected).toEqual(["st-outsider", "night-c"]);

    await client.lift(manual.id);
    const lifted = await client.lift(stop.id);
    expect(lifted.coverage.complete).toBe(true);
    await eventually(async () => (await c.ref("night-c").ask({ type: "work", seq: 2, ms: 0 }).catch(() => -1)) === 2, 10_000, "night-c works again");
  });
});
