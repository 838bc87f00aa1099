import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import type { ActorContext, NodeEvent } from "../../runtime/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, readDeadLetters, startNode, startServer } from "../support/nats.ts";

describe("mailbox overflow", () => {
  it("rejects asks beyond the mailbox bound with ERR_MAILBOX_FULL and loses none silently", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("narrow", Counter, { mailboxCapacity: 2 });
    const ref = b.ref<typeof Counter>("narrow");
    const busy = ref.ask({ type: "slow", ms: 300 });
    await new Promise((r) => setTimeout(r, 50));
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => ref.ask({ type: "add", n: 1 })));
    await busy;
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const full = results.filter((r) => r.status === "rejected" && hasCode(r.reason, "ERR_MAILBOX_FULL")).length;
    expect(ok).toBe(2);
    expect(full).toBe(8);
    expect(await ref.ask({ type: "get" })).toBe(2); // exactly the accepted ones were applied
    await a.flushDeadLetters();
    expect((await readDeadLetters(server.url)).filter((l) => l.code === "ERR_MAILBOX_FULL")).toHaveLength(8);
  });

  it("throws ERR_MAILBOX_FULL synchronously to a local teller and reports remote tells as undeliverable", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    const local = await a.spawn("tight", Counter, { mailboxCapacity: 1 });
    void local.ask({ type: "slow", ms: 300 });
    await new Promise((r) => setTimeout(r, 30));
    local.tell({ type: "add", n: 1 });
    expect(() => local.tell({ type: "add", n: 1 })).toThrow(expect.objectContaining({ code: "ERR_MAILBOX_FULL" }));
    const undeliverable: NodeEvent[] = [];
    b.onEvent((e) => e.type === "undeliverable" && undeliverable.push(e));
    b.ref("tight").tell({ type: "add", n: 1 });
    await eventually(() => undeliverable.length === 1);
    expect(undeliverable[0]).toMatchObject({ code: "ERR_MAILBOX_FULL", target: "tight" });
  });
});

const Work = z.strictObject({ type: z.literal("work"), ms: z.number().int() });
type Work = z.infer<typeof Work>;

class Worker extends Actor<Work, number> {
  static override readonly protocol = Work;
  override state = 0;
  constructor(readonly log: string[]) {
    super();
  }
  async handle(msg: Work, ctx: ActorContext): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, msg.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(t);
        reject(new Error("aborted"));
      });
    });
    this.state++;
    return this.state;
  }
  override onStop(): void {
    this.log.push(`stopped after ${this.state}`);
  }
}

describe("graceful shutdown", () => {
  it("drains queued messages, runs onStop, releases ownership and removes the node lease", async () => {
    await using server = await startServer();
    await using observer = await startNode(server.url);
    const node = await startNode(server.url);
    const log: string[] = [];
    const ref = await node.spawn("w", Worker, { args: [log] });
    const replies = Array.from({ length: 5 }, () => ref.ask({ type: "work", ms: 20 }));
    await node.close();
    expect(await Promise.all(replies)).toEqual([1, 2, 3, 4, 5]);
    expect(log).toEqual(["stopped after 5"]);
    expect((await observer.listActors()).map((r) => r.actorId)).not.toContain("w");
    expect((await observer.listNodes()).map((n) => n.nodeId)).not.toContain(node.id);
    expect(() => ref.tell({ type: "work", ms: 1 })).toThrow(expect.objectContaining({ code: "ERR_NODE_STOPPED" }));
    await node.close(); // twice is safe
  });

  it("aborts the handler in flight past shutdownTimeoutMs and dead-letters what was still queued", async () => {
    await using server = await startServer();
    const node = await startNode(server.url, { shutdownTimeoutMs: 200 });
    await using other = await startNode(server.url);
    await node.spawn("stuck", Worker, { args: [[]] });
    const remote = other.ref<typeof Worker>("stuck");
    const first = remote.ask({ type: "work", ms: 10_000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const second = remote.ask({ type: "work", ms: 1 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await node.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(hasCode(await first, "ERR_HANDLER_ABORTED")).toBe(true);
    expect(hasCode(await second, "ERR_SHUTDOWN_TIMEOUT")).toBe(true);
    const letters = await readDeadLetters(server.url);
    expect(letters.some((l) => l.code === "ERR_SHUTDOWN_TIMEOUT")).toBe(true);
  });
});
