import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";
import { Actor, AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { MetricNames, type Node, type NodeOptionsInput } from "../../runtime/index.ts";
import { GuardedCalls, Supervisor, constantBackoff, defineSupervisor } from "../../supervisors/index.ts";
import { Counter } from "../support/actors.ts";
import { TestMeters, matching, sumOf, type Point } from "../support/metrics.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const GateMsg = z.strictObject({ type: z.literal("wait") });

/** Handles each message only when the test opens the gate (messages pile up in the mailbox meanwhile). */
class Gate extends Actor<z.infer<typeof GateMsg>, void> {
  static override readonly protocol = GateMsg;
  static started = 0;
  static open: () => void = () => undefined;
  static readonly opened = new Promise<void>((resolve) => {
    Gate.open = resolve;
  });
  async handle(): Promise<void> {
    Gate.started++;
    await Gate.opened;
  }
}

const keyDir = mkdtempSync(join(tmpdir(), "tether-metrics-keys-"));

describe("metrics through the global MeterProvider (a standard SDK setup, no Tether wiring)", () => {
  // what an application's SDK setup does: a MeterProvider with a reader, registered globally, before nodes start
  const meters = new TestMeters();
  beforeAll(() => void meters.registerGlobal());
  afterAll(async () => {
    await meters[Symbol.asyncDispose]();
    rmSync(keyDir, { recursive: true, force: true });
  });
  const on = (node: Node, extra: Record<string, unknown> = {}) => ({ "tether.node": node.id, "tether.network": node.network, ...extra });

  it("counts tells, asks, rejections and dead letters, times asks, and gauges mailbox depth and hosted actors", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await a.spawn("counter", Counter);
    await a.spawn("gate", Gate);
    const counter = b.ref<typeof Counter>("counter");
    await eventually(async () => (await counter.ask({ type: "get" }).catch(() => -1)) === 0, 10_000, "b reaching the counter");
    // everything below is counted from here (the probes above count too)
    const before = await meters.collect();
    const delta = (m: Map<string, Point[]>, name: string, match: Record<string, unknown>) => sumOf(m.get(name) ?? [], match) - sumOf(before.get(name) ?? [], match);
    const okAsksBefore = (before.get(MetricNames.askDuration) ?? []).filter((p) => p.attributes["tether.node"] === b.id && p.attributes["error.type"] === undefined).reduce((n, p) => n + (p.count ?? 0), 0);

    for (let i = 0; i < 3; i++) counter.tell({ type: "add", n: 1 });
    expect(await counter.ask({ type: "get" })).toBe(3);
    expect(await counter.ask({ type: "add", n: 1 })).toBe(4);
    // a local ask on a: sent and received on the same node
    expect(await a.ref<typeof Counter>("counter").ask({ type: "get" })).toBe(4);

    // rejected by the actor's schema (the sender's ask fails with the code)
    const refused = await b.ref("counter").ask({ type: "nope" }).catch((e: unknown) => e);
    expect(hasCode(refused, "ERR_MESSAGE_UNKNOWN_TYPE")).toBe(true);
    // an attacker publishing bytes that are no envelope straight to the actor's subject
    const attacker = await connect({ servers: server.url });
    attacker.publish(a.subjects.actor("counter"), new TextEncoder().encode("not msgpack at all"));
    await attacker.flush();
    await attacker.close();
    // a tell to nobody: dead-lettered on the sender's node when NATS reports no responders
    b.ref("nobody").tell({ type: "x" });

    await eventually(async () => (await meters.total(MetricNames.messagesRejected, on(a, { "error.type": "ERR_MESSAGE_MALFORMED" }))) === 1, 5_000, "the malformed message counted");
    await eventually(async () => (await meters.total(MetricNames.deadLetters, on(b, { "error.type": "ERR_ACTOR_NOT_FOUND" }))) === 1, 5_000, "the dead letter counted");
    const m = await meters.collect();
    const sent = MetricNames.messagesSent;
    const received = MetricNames.messagesReceived;
    expect(delta(m, sent, on(b, { "tether.message.kind": "tell", "messaging.operation.name": "send", "messaging.system": "nats" }))).toBe(4); // 3 adds + the tell to nobody
    expect(delta(m, received, on(a, { "tether.message.kind": "tell", "tether.actor.type": "Counter", "messaging.operation.name": "receive" }))).toBe(3);
    expect(delta(m, sent, on(b, { "tether.message.kind": "ask" }))).toBe(3); // get, add and the refused one (sent, then rejected by a)
    expect(delta(m, sent, on(a, { "tether.message.kind": "ask" }))).toBe(1);
    expect(delta(m, received, on(a, { "tether.message.kind": "ask", "tether.actor.type": "Counter" }))).toBe(3); // get, add, the local get
    expect(sumOf(m.get(MetricNames.messagesRejected) ?? [], on(a))).toBe(2);
    expect(sumOf(m.get(MetricNames.messagesRejected) ?? [], on(a, { "error.type": "ERR_MESSAGE_UNKNOWN_TYPE" }))).toBe(1);
    expect(sumOf(m.get(MetricNames.deadLetters) ?? [], on(a))).toBe(2); // each rejection is a dead letter too
    expect(sumOf(m.get(MetricNames.messagesRejected) ?? [], on(b))).toBe(0);

    const asks = m.get(MetricNames.askDuration) ?? [];
    const okAsks = matching(asks, on(b)).filter((p) => p.attributes["error.type"] === undefined);
    expect(okAsks.reduce((n, p) => n + (p.count ?? 0), 0) - okAsksBefore).toBe(2);
    expect(okAsks.reduce((n, p) => n + (p.sum ?? 0), 0)).toBeGreaterThan(0);
    expect(okAsks.reduce((n, p) => n + (p.sum ?? 0), 0)).toBeLessThan(60); // seconds, not milliseconds
    expect(sumOf(asks, on(b, { "error.type": "ERR_MESSAGE_UNKNOWN_TYPE" }))).toBe(1);

    // mailbox depth: the gate holds its first message, the next two wait
    const gate = b.ref<typeof Gate>("gate");
    for (let i = 0; i < 3; i++) gate.tell({ type: "wait" });
    await eventually(async () => Gate.started === 1 && (await meters.total(MetricNames.mailboxDepth, on(a, { "tether.actor.type": "Gate" }))) === 2, 5_000, "two messages waiting");
    expect(await meters.total(MetricNames.actorsHosted, on(a, { "tether.actor.type": "Gate" }))).toBe(1);
    expect(await meters.total(MetricNames.actorsHosted, on(a))).toBe(2);
    Gate.open();
    await eventually(async () => (await meters.total(MetricNames.mailboxDepth, on(a, { "tether.actor.type": "Gate" }))) === 0, 5_000, "the mailbox drained");
  });

  it("gauges a circuit breaker's state and counts its transitions, and counts supervisor restarts", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("sick", Counter);
    await using guard = await GuardedCalls.open(node);
    const breaker = { minimumCalls: 2, failureRateThreshold: 0.5, openMs: 60_000, windowMs: 60_000 };
    guard.breaker("sick", breaker);
    expect(await meters.total(MetricNames.breakerState, on(node, { "tether.breaker.target": "sick" }))).toBe(0);
    for (let i = 0; i < 2; i++) await guard.ask<typeof Counter>("sick", { type: "fail", reason: "overloaded" }, { breaker }).catch(() => undefined);
    expect(guard.breaker("sick").state).toBe("open");
    expect(await meters.total(MetricNames.breakerState, on(node, { "tether.breaker.target": "sick" }))).toBe(2);
    expect(await meters.total(MetricNames.breakerTransitions, on(node, { "tether.breaker.state": "open", "tether.breaker.reason": "failure_rate" }))).toBe(1);

    await using sup = await Supervisor.start(
      node,
      defineSupervisor({ id: "metered-tree", backoff: constantBackoff({ delayMs: 5 }), children: [{ id: "metered-child", start: () => new Counter() }] }),
    );
    await node.ref<typeof Counter>("metered-child").ask({ type: "fail", reason: "boom" }).catch(() => undefined);
    await eventually(() => sup.restarts === 1, 10_000, "the restart");
    expect(await meters.total(MetricNames.actorRestarts, on(node, { "tether.supervisor.id": "metered-tree" }))).toBe(1);
  });

  it("counts an actor taken over from a dead node, by actor type", async () => {
    await using server = await startServer();
    const fast = { heartbeatMs: 200, leaseTtlMs: 1_000 };
    await using dying = await startNode(server.url, fast);
    await using survivor = await startNode(server.url, fast);
    dying.registerType(Counter);
    survivor.registerType(Counter);
    await dying.spawn("orphan", Counter);
    expect(await meters.total(MetricNames.failovers, on(survivor))).toBe(0);
    await dying.nats.close(); // dies without releasing anything: its lease lapses
    await eventually(async () => (await survivor.whereIs("orphan"))?.record.nodeId === survivor.id, 15_000, "the takeover");
    await eventually(async () => (await meters.total(MetricNames.failovers, on(survivor, { "tether.actor.type": "Counter" }))) === 1, 5_000, "the failover counted");
  });

  it("gauges ledger entries waiting for a receipt and times the appends once the ledger answers", async () => {
    const regulated = (ledger: Record<string, unknown> = {}): NodeOptionsInput => ({ assurance: { profile: "regulated", keyDir, ledger } as NodeOptionsInput["assurance"] });
    await using server = await startServer();
    await using client = await startNode(server.url, regulated({ onUnavailable: "wait", timeoutMs: 60_000 }));
    const recorded = client.assurance.recordEvent("test.metered", "metrics-test", { n: 1 });
    await eventually(async () => (await meters.total(MetricNames.ledgerPending, on(client))) >= 1, 5_000, "an entry waiting for the ledger");

    await using ledger = await startNode(server.url, regulated());
    await ledger.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(ledger, { keyDir })] });
    expect(await recorded).toMatchObject({ index: expect.any(Number) });
    await eventually(async () => (await meters.total(MetricNames.ledgerPending, on(client))) === 0, 10_000, "nothing waiting");
    const appends = (await meters.collect()).get(MetricNames.ledgerAppendDuration) ?? [];
    expect(matching(appends, on(client)).filter((p) => p.attributes["error.type"] === undefined).reduce((n, p) => n + (p.count ?? 0), 0)).toBeGreaterThanOrEqual(1);
  });
});
