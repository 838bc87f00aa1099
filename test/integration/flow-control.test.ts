import { describe, expect, it } from "vitest";
import type { NodeEvent } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, readDeadLetters, startNode, startServer } from "../support/nats.ts";
import { TetherProcess } from "../support/processes.ts";

type SeqMsg = { type: "seq"; n: number; pad?: string } | { type: "stats" };
type Stats = { count: number; outOfOrder: number };

describe("flow control of tell", () => {
  it("delivers 10,000 of 10,000 tells in order to an actor in another process when the sender awaits ready()", async () => {
    await using server = await startServer();
    await using child = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "far", "--agents", "test/fixtures/flow-agents.ts", "--log-level", "warn"]);
    await child.waitFor(/node far up/);
    await using node = await startNode(server.url);
    const undeliverable: NodeEvent[] = [];
    node.onEvent((e) => e.type === "undeliverable" && undeliverable.push(e));
    const ref = node.ref("seq");
    let waits = 0;
    for (let n = 0; n < 10_000; n++) {
      if (!ref.tell({ type: "seq", n, pad: "x".repeat(100) } satisfies SeqMsg)) {
        waits++;
        await ref.ready();
      }
    }
    await eventually(async () => ((await ref.ask({ type: "stats" })) as Stats).count === 10_000, 20_000, "all 10,000 handled");
    expect(await ref.ask({ type: "stats" })).toEqual({ count: 10_000, outOfOrder: 0 });
    expect(undeliverable).toEqual([]);
    expect(waits).toBeGreaterThan(0); // the window did push back: a tight loop outruns the receiver
  });

  it("still refuses what does not fit when the sender ignores the signal, and every refusal returns its credit", async () => {
    await using server = await startServer();
    await using child = new TetherProcess(["node", "start", "--nats", server.url, "--node-id", "far", "--agents", "test/fixtures/flow-agents.ts", "--log-level", "warn"]);
    await child.waitFor(/node far up/);
    await using node = await startNode(server.url);
    const refused: NodeEvent[] = [];
    node.onEvent((e) => e.type === "undeliverable" && refused.push(e));
    const ref = node.ref("slow-seq"); // 200 µs per message, mailbox of 64
    let falses = 0;
    for (let n = 0; n < 2_000; n++) if (!ref.tell({ type: "seq", n } satisfies SeqMsg)) falses++;
    expect(falses).toBeGreaterThan(0);
    // every tell is either handled or reported back as refused, none silently lost
    await eventually(
      async () => {
        const stats = (await ref.ask({ type: "stats" }, { timeoutMs: 10_000 }).catch(() => undefined)) as Stats | undefined; // the ask may find the mailbox full too
        return stats !== undefined && stats.count + refused.length === 2_000;
      },
      30_000,
      "handled + refused = sent",
    );
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.type === "undeliverable" && e.code === "ERR_MAILBOX_FULL" && e.target === "slow-seq" && typeof e.messageId === "string")).toBe(true);
    // handled tells were credited in batches and refusals one by one: the window is open again
    await eventually(async () => {
      await ref.ready();
      return true;
    }, 5_000, "window open again");
  });

  it("waits on a full local mailbox and loses nothing when the sender is on the same node", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { mailboxCapacity: 16 });
    const seen: string[] = [];
    const ref = await node.spawn("local", Counter, { args: [seen] });
    for (let i = 0; i < 1_000; i++) if (!ref.tell({ type: "add", n: 1 })) await ref.ready();
    await eventually(async () => (await ref.ask({ type: "get" })) === 1_000, 10_000, "all handled");
  });

  it("dead-letters a tell that a full mailbox on the same node refuses, and throws it to the teller", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { mailboxCapacity: 2 });
    const ref = await node.spawn("tight", Counter);
    const letters: NodeEvent[] = [];
    node.onEvent((e) => e.type === "dead-letter" && letters.push(e));
    // the actor runs only after this synchronous loop yields, so the third tell finds the mailbox full
    expect(ref.tell({ type: "add", n: 1 })).toBe(true);
    expect(ref.tell({ type: "add", n: 1 })).toBe(false); // full now: wait for ready()
    expect(() => ref.tell({ type: "add", n: 1 })).toThrow(expect.objectContaining({ code: "ERR_MAILBOX_FULL" }));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ record: { code: "ERR_MAILBOX_FULL", target: "tight", kind: "tell", node: node.id } });
    await node.flushDeadLetters();
    const stored = await readDeadLetters(server.url);
    expect(stored.filter((l) => l.code === "ERR_MAILBOX_FULL" && l.target === "tight")).toHaveLength(1);
    await ref.ready();
    expect(await ref.ask({ type: "get" })).toBe(2);
  });
});
