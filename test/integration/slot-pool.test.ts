import { describe, expect, it } from "vitest";
import { SlotPool } from "../../actors/index.ts";
import { hasCode, type SlotGrant } from "../../protocols/index.ts";
import { startNode, startServer } from "../support/nats.ts";

describe("the shared slot pool (seed-02 outage scenario)", () => {
  it("serves 5 critical diagnostic agents before 45 observers that asked first, and starves none", async () => {
    await using server = await startServer();
    await using provider = await startNode(server.url);
    await using agents = await startNode(server.url);
    await provider.spawn("inference", SlotPool, {
      args: [{ name: "inference", capacity: 4, classes: [{ name: "critical", priority: 0 }, { name: "observer", priority: 1, maxBypass: 10 }] }],
    });
    const pool = agents.ref<typeof SlotPool>("inference");
    const grants: { who: string; cls: string; waitedMs: number }[] = [];
    const job = async (who: string, cls: string) => {
      const asked = Date.now();
      const g = (await pool.ask({ type: "tether.slots.v1.acquire", class: cls, holder: who }, { timeoutMs: 30_000 })) as unknown as SlotGrant; // a deferred reply
      grants.push({ who, cls, waitedMs: Date.now() - asked });
      await new Promise((r) => setTimeout(r, 40)); // the inference call
      pool.tell({ type: "tether.slots.v1.release", grant: g.grant });
    };
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 45; i++) jobs.push(job(`observer-${i}`, "observer"));
    await new Promise((r) => setTimeout(r, 20)); // the outage: observers got there first
    for (let i = 0; i < 5; i++) jobs.push(job(`diagnose-${i}`, "critical"));
    await Promise.all(jobs);

    expect(grants).toHaveLength(50); // nobody starved
    const order = grants.map((g) => g.cls);
    const lastCritical = order.lastIndexOf("critical");
    // the first 4 slots went to early observers; every slot freed after that served the critical work first
    expect(order.slice(0, 4)).toEqual(["observer", "observer", "observer", "observer"]);
    expect(lastCritical).toBe(8);
    const stats = await pool.ask({ type: "tether.slots.v1.stats" });
    expect(stats).toMatchObject({ capacity: 4, inFlight: 0, queued: 0 });
  });

  it("refuses an unknown priority class with a typed error", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("slots", SlotPool, { args: [{ capacity: 1, classes: [{ name: "a", priority: 0 }] }] });
    const err = await node.ref<typeof SlotPool>("slots").ask({ type: "tether.slots.v1.acquire", class: "vip", holder: "x" }).catch((e: unknown) => e);
    expect(hasCode(err, "ERR_BULKHEAD_CLASS_UNKNOWN")).toBe(true);
  });
});
