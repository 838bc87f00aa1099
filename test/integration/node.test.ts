import { describe, expect, it } from "vitest";
import { Node, silentLogger, type NodeEvent } from "../../runtime/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

describe("Node on a single nats-server", () => {
  it("starts an embedded nats-server when no URL is given, and stops it on close", async () => {
    const node = await Node.create({}, { logger: silentLogger });
    const server = node.embeddedServer;
    try {
      expect(server?.running).toBe(true);
      expect(node.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      const ref = await node.spawn("c", Counter);
      expect(await ref.ask({ type: "add", n: 2 })).toBe(2);
    } finally {
      await node.close();
    }
    expect(server?.running).toBe(false);
  });

  it("answers asks with typed replies and processes tells in order", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const ref = await node.spawn("counter", Counter);
    for (let i = 1; i <= 10; i++) ref.tell({ type: "add", n: i });
    const total: number = await ref.ask({ type: "get" });
    expect(total).toBe(55);
  });

  it("reaches an actor on another node by id alone, in both directions", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("left", Counter);
    await b.spawn("right", Counter);
    expect(await b.ref<typeof Counter>("left").ask({ type: "add", n: 5 })).toBe(5);
    b.ref<typeof Counter>("left").tell({ type: "add", n: 1 });
    await eventually(async () => (await a.ref<typeof Counter>("left").ask({ type: "get" })) === 6);
    // an actor's handler reaches an actor on the other node through ctx.ref
    expect(await a.ref<typeof Counter>("left").ask({ type: "forward", to: "right", n: 7 })).toBe(7);
    expect(await b.ref<typeof Counter>("right").ask({ type: "get" })).toBe(7);
  });

  it("replies ERR_ACTOR_NOT_FOUND to an ask for an unknown actor and dead-letters a tell to it", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const events: NodeEvent[] = [];
    node.onEvent((e) => events.push(e));
    await expect(node.ref("ghost").ask({ type: "get" })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_NOT_FOUND"));
    node.ref("ghost").tell({ type: "get" });
    await eventually(() => events.some((e) => e.type === "undeliverable" && e.target === "ghost"));
    expect(events.filter((e) => e.type === "dead-letter" && e.record.code === "ERR_ACTOR_NOT_FOUND")).toHaveLength(2);
  });

  it("turns a handler exception into ERR_ACTOR_HANDLER_FAILED for the asker and keeps serving", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("c", Counter);
    const failures: NodeEvent[] = [];
    a.onEvent((e) => e.type === "actor-failed" && failures.push(e));
    const err = await b.ref<typeof Counter>("c").ask({ type: "fail", reason: "boom" }).catch((e: unknown) => e);
    expect(hasCode(err, "ERR_ACTOR_HANDLER_FAILED")).toBe(true);
    expect((err as Error).message).toMatch(/boom/);
    expect(failures).toHaveLength(1);
    expect(await b.ref<typeof Counter>("c").ask({ type: "add", n: 1 })).toBe(1);
  });

  it("times out an ask with ERR_ASK_TIMEOUT", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { shutdownTimeoutMs: 200 });
    const ref = await node.spawn("slow", Counter);
    await expect(ref.ask({ type: "slow", ms: 2_000 }, { timeoutMs: 100 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ASK_TIMEOUT"));
  });

  it("processes priority-lane messages before queued normal ones", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    const seen: string[] = [];
    const ref = await a.spawn("p", Counter, { args: [seen] });
    expect(a.localActors()).toEqual(["p"]);
    const slow = b.ref<typeof Counter>("p").ask({ type: "slow", ms: 300 });
    await new Promise((r) => setTimeout(r, 50)); // the slow handler is running now
    const remote = b.ref<typeof Counter>("p");
    remote.tell({ type: "add", n: 1 });
    remote.tell({ type: "add", n: 2 });
    remote.tell({ type: "get" }, { priority: true });
    await slow;
    await eventually(() => seen.length === 4);
    expect(seen).toEqual(["slow", "get", "add", "add"]);
    expect(await ref.ask({ type: "get" })).toBe(3);
  });

  it("fails a spawn whose onStart throws or hangs with ERR_ACTOR_START_FAILED, and releases the id", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { actorStartTimeoutMs: 150 });
    class Broken extends Counter {
      override onStart(): void {
        throw new Error("no database");
      }
    }
    class Stuck extends Counter {
      override onStart(): Promise<void> {
        return new Promise(() => undefined);
      }
    }
    const broken = await node.spawn("x", Broken).catch((e: unknown) => e);
    expect(hasCode(broken, "ERR_ACTOR_START_FAILED")).toBe(true);
    expect((broken as Error).message).toMatch(/no database/);
    const stuck = await node.spawn("x", Stuck).catch((e: unknown) => e);
    expect(hasCode(stuck, "ERR_ACTOR_START_FAILED")).toBe(true);
    expect((stuck as Error).message).toMatch(/within 150 ms/);
    const ok = await node.spawn("x", Counter); // the id was released both times
    expect(await ok.ask({ type: "add", n: 1 })).toBe(1);
  });
});
