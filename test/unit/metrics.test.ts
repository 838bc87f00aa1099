import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { NodeHealth } from "../../cli/index.ts";
import { MetricNames, TetherMetrics } from "../../runtime/index.ts";
import { TestMeters } from "../support/metrics.ts";

const labels = { network: "net", node: "n1" };
const cell = (type: string, size: number) => ({ actorClass: { name: type }, mailbox: { size } });

describe("TetherMetrics", () => {
  it("is disabled on the API's no-op meter (no SDK registered) and enabled on an SDK provider", async () => {
    expect(new TetherMetrics(undefined, labels).enabled).toBe(false);
    await using meters = new TestMeters();
    expect(new TetherMetrics(meters.provider, labels).enabled).toBe(true);
  });

  it("sums mailbox depth and counts hosted actors by actor type, and observes nothing after close", async () => {
    await using meters = new TestMeters();
    const metrics = new TetherMetrics(meters.provider, labels);
    const cells = [cell("Pharmacist", 3), cell("Pharmacist", 4), cell("Triage", 0)];
    metrics.observeActors(() => cells);
    const m = await meters.collect();
    const base = { "tether.network": "net", "tether.node": "n1" };
    expect(m.get(MetricNames.mailboxDepth)).toEqual(
      expect.arrayContaining([
        { attributes: { ...base, "tether.actor.type": "Pharmacist" }, value: 7 },
        { attributes: { ...base, "tether.actor.type": "Triage" }, value: 0 },
      ]),
    );
    expect(m.get(MetricNames.actorsHosted)).toContainEqual({ attributes: { ...base, "tether.actor.type": "Pharmacist" }, value: 2 });
    metrics.close();
    cells.push(cell("Late", 1)); // the callback is detached: a closed node observes nothing new
    expect(((await meters.collect()).get(MetricNames.mailboxDepth) ?? []).map((p) => p.attributes["tether.actor.type"])).not.toContain("Late");
  });

  it("labels rejections and dead letters with the error code and ask failures with error.type, successes without", async () => {
    await using meters = new TestMeters();
    const metrics = new TetherMetrics(meters.provider, labels);
    metrics.rejected("ERR_MAILBOX_FULL");
    metrics.rejected("ERR_MAILBOX_FULL");
    metrics.deadLetter("ERR_ACTOR_NOT_FOUND");
    metrics.askFinished(0.002, undefined);
    metrics.askFinished(5, "ERR_ASK_TIMEOUT");
    const m = await meters.collect();
    expect(m.get(MetricNames.messagesRejected)).toEqual([{ attributes: { "tether.network": "net", "tether.node": "n1", "error.type": "ERR_MAILBOX_FULL" }, value: 2 }]);
    expect(m.get(MetricNames.deadLetters)?.[0]?.attributes["error.type"]).toBe("ERR_ACTOR_NOT_FOUND");
    const asks = m.get(MetricNames.askDuration) ?? [];
    expect(asks.find((p) => p.attributes["error.type"] === undefined)).toMatchObject({ count: 1, sum: 0.002 });
    expect(asks.find((p) => p.attributes["error.type"] === "ERR_ASK_TIMEOUT")).toMatchObject({ count: 1, sum: 5 });
  });
});

describe("docs/observability.md", () => {
  it("lists every metric in MetricNames, and no other tether.* metric", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "..", "..", "docs", "observability.md"), "utf8");
    const rows = [...doc.matchAll(/^\| `(tether\.[a-z_.]+)` \| (counter|counter \(observable\)|histogram|observable gauge) \|/gm)].map((m) => m[1]);
    expect(rows.sort()).toEqual(Object.values(MetricNames).sort());
  });
});

describe("NodeHealth (/healthz)", () => {
  it("is starting until a node is attached, ok while connected, unavailable while reconnecting, closed or stopping", () => {
    const health = new NodeHealth();
    expect(health.report()).toEqual({ status: "starting" });
    let closed = false;
    let listener: ((e: { type: string; status?: string }) => void) | undefined;
    health.attach({ id: "n1", network: "net", localActors: () => ["a", "b"], nats: { isClosed: () => closed }, onEvent: (l) => ((listener = l), () => undefined) });
    expect(health.report()).toEqual({ status: "ok", node: "n1", network: "net", actors: 2, nats: "connected" });
    listener?.({ type: "transport", status: "disconnect" });
    expect(health.report()).toMatchObject({ status: "unavailable", nats: "reconnecting" });
    listener?.({ type: "transport", status: "ping" });
    expect(health.report()).toMatchObject({ status: "unavailable", nats: "reconnecting" });
    listener?.({ type: "transport", status: "reconnect" });
    expect(health.report()).toMatchObject({ status: "ok", nats: "connected" });
    closed = true;
    expect(health.report()).toMatchObject({ status: "unavailable", nats: "closed" });
    closed = false;
    listener?.({ type: "node-stopping" });
    expect(health.report()).toMatchObject({ status: "unavailable", nats: "stopping" });
  });
});
