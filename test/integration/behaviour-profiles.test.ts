import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import { ErrorReply, decodeEctUnverified, decodeEnvelope, encodeSend, parseRecord, networkSubjects } from "../../protocols/index.ts";
import { LedgerStream, PROFILE_VIOLATION_ACT, type Node, type NodeEvent } from "../../runtime/index.ts";
import { EscalatingTrader, FreeAgent, QuarantinedTrader, Trader, type Outcome } from "../fixtures/profile-agents.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-profile-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

/** A standard-profile node (signed ECTs) with the audit ledger, a profiled trader and free peers. */
const setup = async (url: string) => {
  const node = await startNode(url, { assurance: { profile: "standard", keyDir } });
  const events: NodeEvent[] = [];
  node.onEvent((e) => events.push(e));
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
  const effects: string[] = [];
  const trader = await node.spawn("trader", Trader, { args: [effects] });
  await node.spawn("broker", FreeAgent, { args: [effects] });
  await node.spawn("exchange", FreeAgent, { args: [effects] });
  return { node, events, effects, trader };
};

const profileViolations = async (node: Node) =>
  (await LedgerStream.readAll(node.nats, node.subjects))
    .map((r) => parseRecord(r))
    .flatMap((r): Record<string, unknown>[] => (r.kind === "event" && r.body.event === "violation" && r.body.details["source"] === "profile" ? [{ subject: r.body.subject, ...r.body.details }] : []));

const storedEcts = async (node: Node) => {
  const out = [];
  for await (const r of node.assurance.store.all()) out.push(r);
  return out;
};

const kindOf = (o: Outcome): string => (o.ok ? "ok" : `${o.code}/${String(o.details["kind"])}`);

describe("behavioural profiles on a node", () => {
  it("blocks each violation kind before it runs and records signed evidence and a ledger violation", async () => {
    await using server = await startServer();
    const { node, effects, trader, events } = await setup(server.url);
    const act = async (name: string, params: Record<string, unknown>, extra: { cost?: Record<string, number>; quoteFirst?: boolean } = {}) =>
      kindOf((await trader.ask({ type: "act", name, params, ...extra })) as Outcome);

    expect(await act("trade", { symbol: "ACME", qty: 10 })).toBe("ok");
    expect(await act("withdraw", { all: true }, { quoteFirst: true })).toBe("ERR_PROFILE_VIOLATION/action");
    expect(await act("trade", { symbol: "ACME", qty: 5_000 })).toBe("ERR_PROFILE_VIOLATION/params");
    expect(await act("trade", { symbol: "ACME", qty: 1 }, { cost: { usd: 20_000 } })).toBe("ERR_PROFILE_VIOLATION/resource");
    expect(await act("trade", { symbol: "INIT", qty: 2 })).toBe("ok");
    expect(await act("trade", { symbol: "INIT", qty: 3 })).toBe("ok");
    expect(await act("trade", { symbol: "INIT", qty: 4 })).toBe("ERR_PROFILE_VIOLATION/rate");
    expect(kindOf((await trader.ask({ type: "send", to: "exchange", mode: "tell" })) as Outcome)).toBe("ERR_PROFILE_VIOLATION/peer");
    expect(kindOf((await trader.ask({ type: "send", to: "exchange", mode: "ask" })) as Outcome)).toBe("ERR_PROFILE_VIOLATION/peer");
    expect(kindOf((await trader.ask({ type: "send", to: "broker", mode: "ask" })) as Outcome)).toBe("ok");

    // no effects of a blocked act or message: only the allowed ones reached the outside world
    expect(effects).toEqual(["trader:trade", "trader:quote", "trader:trade", "trader:trade", "broker:pinged"]);

    // the ledger holds one violation per blocked call, each naming its evidence ECT
    const expected = ["action", "params", "resource", "rate", "peer", "peer"];
    await eventually(async () => (await profileViolations(node)).length >= expected.length, 10_000, "violation records");
    const recorded = await profileViolations(node);
    expect(recorded.map((v) => v["kind"])).toEqual(expected);
    expect(recorded.every((v) => v.subject === "trader" && v["code"] === "ERR_PROFILE_VIOLATION" && typeof v["evidence"] === "string")).toBe(true);

    // blocked actions minted no action ECT; each violation is a signed ECT of its own node type
    const ects = await storedEcts(node);
    const actions = ects.filter((r) => r.actor === "trader" && r.exec_act !== PROFILE_VIOLATION_ACT).map((r) => r.exec_act).sort();
    expect(actions).toEqual(["quote", "trade", "trade", "trade"]);
    const evidence = ects.filter((r) => r.exec_act === PROFILE_VIOLATION_ACT);
    expect(evidence.map((r) => r.jti).sort()).toEqual(recorded.map((v) => v["evidence"]).sort());
    for (const r of evidence) {
      const decoded = decodeEctUnverified(r.token);
      expect(decoded.form).toBe("jws");
      expect(decoded.header?.["alg"]).toBe("ES256");
      expect(r.outcome).toBe("refused");
    }
    // the blocked withdraw is linked to what it continued: the quote minted just before it in the same handler
    const withdraw = evidence.find((r) => (decodeEctUnverified(r.token).claims["ext"] as Record<string, { judged?: string }>)["dev.tether.violation"]?.judged === "withdraw");
    const quote = ects.find((r) => r.exec_act === "quote");
    expect(withdraw?.par).toEqual([quote?.jti]);
    expect(withdraw?.wid).toBe(quote?.wid);

    // every violation is also a node event (what a trust actor consumes)
    expect(events.filter((e) => e.type === "profile-violation").map((e) => (e as { kind: string }).kind)).toEqual(expected);
  });

  it("blocks a forbidden action requested by a raw NATS client: the check is in the runtime, not the sender", async () => {
    await using server = await startServer();
    const { node, effects } = await setup(server.url);
    const nc = await connect({ servers: server.url });
    try {
      const subject = networkSubjects(node.network).actor("trader");
      const reply = await nc.request(subject, encodeSend("ask", "raw-1", "mallory", false, { type: "act", name: "withdraw", params: { all: true } }), { timeout: 5_000 });
      const envelope = decodeEnvelope(reply.data);
      expect(envelope.kind === "error" ? ErrorReply.parse(envelope.body).code : envelope.kind === "reply" ? (envelope.body as Outcome) : envelope.kind).toMatchObject({ ok: false, code: "ERR_PROFILE_VIOLATION" });
    } finally {
      await nc.close();
    }
    expect(effects).toEqual([]);
  });

  it("quarantine pauses the actor: later messages are refused with ERR_ACTOR_PAUSED", async () => {
    await using server = await startServer();
    const { node, effects, events } = await setup(server.url);
    const q = await node.spawn("q-trader", QuarantinedTrader, { args: [effects] });
    expect(kindOf((await q.ask({ type: "act", name: "withdraw", params: {} })) as Outcome)).toBe("ERR_PROFILE_VIOLATION/action");
    await eventually(() => events.some((e) => e.type === "actor-paused" && e.actorId === "q-trader"), 5_000, "actor-paused");
    await expect(q.ask({ type: "act", name: "quote", params: {} })).rejects.toMatchObject({ code: "ERR_ACTOR_PAUSED" });
    expect(effects).toEqual([]);
    node.pauseActor("q-trader", 0);
    expect(kindOf((await q.ask({ type: "act", name: "quote", params: {} })) as Outcome)).toBe("ok");
  });

  it("escalate records a profile-escalation event in the ledger", async () => {
    await using server = await startServer();
    const { node } = await setup(server.url);
    const e = await node.spawn("e-trader", EscalatingTrader, { args: [[]] });
    expect(kindOf((await e.ask({ type: "act", name: "trade", params: { symbol: "ACME", qty: 0 } })) as Outcome)).toBe("ERR_PROFILE_VIOLATION/params");
    const escalations = async () =>
      (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r)).filter((r) => r.kind === "event" && r.body.event === "profile-escalation");
    await eventually(async () => (await escalations()).length === 1, 10_000, "escalation record");
  });

  it("constrainActor narrows a running actor's profile without restarting it, and cannot widen it", async () => {
    await using server = await startServer();
    const { node, effects, trader, events } = await setup(server.url);
    expect(kindOf((await trader.ask({ type: "act", name: "quote", params: {} })) as Outcome)).toBe("ok");
    expect(kindOf((await trader.ask({ type: "send", to: "desk-eu", mode: "tell" })) as Outcome)).toBe("ok"); // no such actor, but allowed
    const started = events.filter((e) => e.type === "actor-started").length;

    node.constrainActor("trader", { actions: { trade: {}, withdraw: {} }, peers: ["broker"] });
    expect(kindOf((await trader.ask({ type: "act", name: "quote", params: {} })) as Outcome)).toBe("ERR_PROFILE_VIOLATION/action");
    expect(kindOf((await trader.ask({ type: "act", name: "withdraw", params: {} })) as Outcome)).toBe("ERR_PROFILE_VIOLATION/action"); // not widened
    expect(kindOf((await trader.ask({ type: "send", to: "desk-eu", mode: "tell" })) as Outcome)).toBe("ERR_PROFILE_VIOLATION/peer");
    expect(kindOf((await trader.ask({ type: "act", name: "trade", params: { symbol: "ACME", qty: 1 } })) as Outcome)).toBe("ok");

    // the same instance kept running: its message count went on, and nothing was started again
    expect(await trader.ask({ type: "handled" })).toBe(7);
    expect(events.filter((e) => e.type === "actor-started").length).toBe(started);
    expect(effects).toEqual(["trader:quote", "trader:trade"]);
  });
});
