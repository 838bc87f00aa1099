import { describe, expect, it } from "vitest";
import { GuardedCalls } from "../../supervisors/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startCluster, startNode, startServer } from "../support/nats.ts";

const breaker = { minimumCalls: 4, failureRateThreshold: 0.5, openMs: 60_000, windowMs: 60_000 };

describe("circuit breakers and bulkheads on caller→target edges", () => {
  it("opens on one node and makes callers on the other nodes fail fast too (state shared through the cluster)", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    await using host = await startNode(u1, { jetstreamReplicas: 3 });
    await using a = await startNode(u2, { jetstreamReplicas: 3 });
    await using b = await startNode(u3, { jetstreamReplicas: 3 });
    const seen: string[] = [];
    await host.spawn("sick", Counter, { args: [seen] });
    await using guardA = await GuardedCalls.open(a);
    await using guardB = await GuardedCalls.open(b);
    guardB.breaker("sick", breaker); // b watches the same edge
    await eventually(async () => (await a.ref<typeof Counter>("sick").ask({ type: "get" }).catch(() => -1)) === 0, 10_000, "interest");
    seen.length = 0;
    for (let i = 0; i < 4; i++) {
      const e = await guardA.ask<typeof Counter>("sick", { type: "fail", reason: "overloaded" }, { breaker }).catch((err: unknown) => err);
      expect(hasCode(e, "ERR_ACTOR_HANDLER_FAILED")).toBe(true);
    }
    expect(guardA.breaker("sick").state).toBe("open");
    await eventually(() => guardB.breaker("sick").state === "open", 5_000, "b adopts the open breaker");
    const calls = seen.length;
    const refused = await guardB.ask<typeof Counter>("sick", { type: "get" }, { breaker }).catch((err: unknown) => err);
    expect(hasCode(refused, "ERR_BREAKER_OPEN")).toBe(true);
    expect((refused as { details: { retryAfterMs: number } }).details.retryAfterMs).toBeGreaterThan(0);
    const degraded = await guardB.ask<typeof Counter>("sick", { type: "get" }, { breaker, fallback: () => -42 });
    expect(degraded).toBe(-42);
    expect(seen.length).toBe(calls); // b never reached the sick agent
  });

  it("rejects calls beyond a per-target in-flight limit with ERR_BULKHEAD_FULL", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("slow", Counter);
    await using guard = await GuardedCalls.open(node);
    const bulkhead = { maxConcurrent: 1, maxQueue: 0 };
    const first = guard.ask<typeof Counter>("slow", { type: "slow", ms: 300 }, { bulkhead });
    await new Promise((r) => setTimeout(r, 20));
    const second = await guard.ask<typeof Counter>("slow", { type: "get" }, { bulkhead }).catch((e: unknown) => e);
    expect(hasCode(second, "ERR_BULKHEAD_FULL")).toBe(true);
    expect(await first).toBe(0);
    expect(await guard.ask<typeof Counter>("slow", { type: "get" }, { bulkhead })).toBe(0); // the slot was released
  });
});
