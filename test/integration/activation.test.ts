import { describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { FakeClock, Registry, systemClock } from "../../runtime/index.ts";
import { hasCode, networkSubjects } from "../../protocols/index.ts";
import { Counter } from "../support/actors.ts";
import { startNode, startServer } from "../support/nats.ts";

describe("single activation", () => {
  it("lets exactly one of two nodes win a concurrent spawn of the same id", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    for (let round = 0; round < 10; round++) {
      const id = `contended-${round}`;
      const results = await Promise.allSettled([a.spawn(id, Counter), b.spawn(id, Counter)]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(hasCode((lost[0] as PromiseRejectedResult).reason, "ERR_ACTOR_ALREADY_ACTIVE")).toBe(true);
      const owners = [a, b].filter((n) => n.localActors().includes(id));
      expect(owners).toHaveLength(1);
    }
    const records = await a.listActors();
    expect(records.map((r) => r.actorId).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `contended-${i}`).sort());
  });

  it("refuses a second spawn of a live id on the same node and on another node", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("solo", Counter);
    await expect(a.spawn("solo", Counter)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_ALREADY_ACTIVE"));
    await expect(b.spawn("solo", Counter)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_ALREADY_ACTIVE"));
  });

  it("frees the id when the owner stops the actor, so another node can claim it", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("mover", Counter);
    await a.stopActor("mover");
    const ref = await b.spawn("mover", Counter);
    expect(await ref.ask({ type: "add", n: 1 })).toBe(1);
    expect((await a.listActors()).find((r) => r.actorId === "mover")?.nodeId).toBe(b.id);
  });

  it("lets a live node take over the id of an owner whose lease expired", async () => {
    await using server = await startServer();
    const nc = await connect({ servers: server.url });
    try {
      // a node whose clock says it last beat a minute ago, with a 1 s lease: it is dead
      const past = new FakeClock(Date.now() - 60_000);
      const registry = await Registry.open(nc, networkSubjects("default"), { replicas: 1, clock: past });
      const dead = await registry.registerNode("dead-node", "default", 1_000);
      await registry.claim(actorRecord("orphan", "dead-node", dead.epoch));
    } finally {
      await nc.close();
    }
    await using b = await startNode(server.url);
    const ref = await b.spawn("orphan", Counter);
    expect(await ref.ask({ type: "get" })).toBe(0);
    expect((await b.listActors()).find((r) => r.actorId === "orphan")?.nodeId).toBe(b.id);
  });

  it("treats a claim from an earlier epoch of a restarted node as stale", async () => {
    await using server = await startServer();
    const nc = await connect({ servers: server.url });
    try {
      const registry = await Registry.open(nc, networkSubjects("default"), { replicas: 1, clock: systemClock });
      const first = await registry.registerNode("phoenix", "default", 60_000);
      await registry.claim(actorRecord("ember", "phoenix", first.epoch));
      const second = await registry.registerNode("phoenix", "default", 60_000); // restarted: live, new epoch
      expect(second.epoch).toBe(first.epoch + 1);
    } finally {
      await nc.close();
    }
    await using b = await startNode(server.url);
    await b.spawn("ember", Counter);
    expect((await b.listActors()).find((r) => r.actorId === "ember")?.nodeId).toBe(b.id);
  });
});

const actorRecord = (actorId: string, nodeId: string, nodeEpoch: number) => ({
  type: "tether.registry.v1.actor" as const,
  actorId,
  nodeId,
  nodeEpoch,
  className: "Counter",
  capabilities: [],
  spawnedAt: Date.now(),
});
