import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Actor, OverrideClient, TrustClient, VerifierClient } from "../../actors/index.ts";
import { defineProfile } from "../../protocols/index.ts";
import { FakeClock, type ActorContext, type Node } from "../../runtime/index.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { keyDir, ledgerEvents, operatorKeys, personKey, startOversight } from "../support/override.ts";
import { runTether } from "../support/processes.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const Trade = z.strictObject({ type: z.literal("trade"), qty: z.number() });
type Trade = z.infer<typeof Trade>;

const tradeProfile = (onViolation: "trust-penalty" | "quarantine") =>
  defineProfile({ actions: { trade: { params: z.object({ qty: z.number().max(100) }) } }, onViolation, quarantineMs: 1 });

/** Trades within a limit of 100; a violation's response is a trust penalty. */
class PenalisedTrader extends Actor<Trade> {
  static override readonly protocol = Trade;
  static override readonly profile = tradeProfile("trust-penalty");
  async handle(msg: Trade, ctx: ActorContext) {
    return ctx.act("trade", { qty: msg.qty }, () => msg.qty, { compensate: "cancel" }).catch((e: { code?: string }) => e.code ?? "failed");
  }
  compensate(): void {}
}

/** The same limit; a violation's response is quarantine. */
class QuarantinedTrader extends PenalisedTrader {
  static override readonly profile = tradeProfile("quarantine");
}

const cluster3 = async (urls: readonly string[]) => {
  const options = { jetstreamReplicas: 3, assurance: { profile: "standard" as const, keyDir } };
  const [a, b, c] = await Promise.all(urls.map((u) => startNode(u, options)));
  return [a, b, c] as [Node, Node, Node];
};

/** The override actor and ledger on `a`, and a `trust-supervisor` operator key the owner published for the trust actor. */
const oversight = async (a: Node) => {
  await startOversight(a);
  const { owner, operator } = await operatorKeys(a);
  const supervisor = await personKey(a, owner, "operator", "trust-supervisor");
  return { operator, supervisor };
};

/** The pause overrides node `n` holds for agent `id` now (applied there, as acknowledged). */
const pausesOn = (n: Node, id: string): string[] => n.overrides.active().filter((o) => o.action === "pause" && o.scope.kind === "agent" && o.scope.id === id).map((o) => o.id);

describe("trust feeds supervision: quarantine through the override plane (3-node cluster)", () => {
  it("pauses an agent whose score falls below the threshold, and one whose violation asks for quarantine; an operator lifts it", async () => {
    await using cluster = await startCluster();
    const [a, b, c] = await cluster3(cluster.urls);
    await using _a = a;
    await using _b = b;
    await using _c = c;
    const { operator, supervisor } = await oversight(a);
    const clock = new FakeClock(Date.now());
    const trust = await new TrustClient({ clock, quarantine: { threshold: 0.4, signer: supervisor, ackDeadlineMs: 20_000 } }).attach(c).start();
    const penalised = await b.spawn("penalised", PenalisedTrader);
    const strict = await b.spawn("strict", QuarantinedTrader);
    for (let i = 0; i < 3; i++) {
      await penalised.ask({ type: "trade", qty: 10 });
      await strict.ask({ type: "trade", qty: 10 });
    }
    expect(await trust.ingestAll()).toMatchObject({ counted: 6, quarantined: [] });

    // one over-limit trade each: blocked by the profile; penalised stays above 0.4 (4 / 8), strict is quarantined at once
    expect(await penalised.ask({ type: "trade", qty: 500 })).toBe("ERR_PROFILE_VIOLATION");
    expect(await strict.ask({ type: "trade", qty: 500 })).toBe("ERR_PROFILE_VIOLATION");
    const first = await trust.ingestAll();
    expect(first.quarantined.map((q) => [q.agent, q.cause, q.issued, q.acked, q.expected])).toEqual([["strict", "violation", true, 1, 1]]);
    expect((await trust.score("penalised")).score).toBeCloseTo(0.5, 6);

    // a second violation: 4 / 11 < 0.4, quarantined for its score
    expect(await penalised.ask({ type: "trade", qty: 500 })).toBe("ERR_PROFILE_VIOLATION");
    const second = await trust.ingestAll();
    expect(second.quarantined.map((q) => [q.agent, q.cause, q.acked, q.expected])).toEqual([["penalised", "score", 1, 1]]);
    const q = second.quarantined[0];
    expect(q?.score).toBeCloseTo(4 / 11, 6);
    // the evidence that tipped it is the violation's signed ECT, recorded on b
    expect((await a.assurance.store.get(q?.evidence ?? "?"))?.exec_act).toBe("tether.profile.violation");
    expect(pausesOn(b, "penalised")).toEqual([q?.overrideId]);
    expect(pausesOn(b, "strict")).toEqual([first.quarantined[0]?.overrideId]);

    // recorded like any override: issued under the supervisor's identity, acknowledged from b; and by the trust actor
    await eventually(async () => (await ledgerEvents(a, "trust.quarantined")).length === 2, 10_000, "trust.quarantined events");
    const issued = (await ledgerEvents(a, "override.issued")).filter((e) => e["action"] === "pause");
    expect(issued.map((e) => [e.subject, (e["by"] as { owner: string }).owner]).sort()).toEqual([
      [q?.overrideId, "trust-supervisor"],
      [first.quarantined[0]?.overrideId, "trust-supervisor"],
    ].sort());
    await eventually(async () => (await ledgerEvents(a, "override.ack")).some((e) => e.subject === q?.overrideId), 10_000, "override.ack");

    // more bad news about a quarantined agent does not pause it again
    expect(await trust.ingestAll()).toMatchObject({ quarantined: [] });
    expect(await trust.quarantines()).toHaveLength(2);
    const cli = await runTether(["trust", "quarantines", "--json", "--nats", cluster.urls[0] ?? ""]);
    expect(cli.code, cli.stderr).toBe(0);
    const rows = cli.stdout.trim().split("\n").map((l) => JSON.parse(l) as { agent: string; overrideId: string });
    expect(rows.map((r) => [r.agent, r.overrideId])).toEqual([
      ["strict", first.quarantined[0]?.overrideId],
      ["penalised", q?.overrideId],
    ]);

    // an operator lifts it: the held trade runs, and new ones too
    const overrides = new OverrideClient({ nc: a.nats, signer: operator });
    const pending = a.ref("penalised").ask({ type: "trade", qty: 2 }, { timeoutMs: 20_000 });
    await overrides.lift(q?.overrideId ?? "?", { reason: "reviewed: limits fixed" });
    expect(await pending).toBe(2);
    expect(pausesOn(b, "penalised")).toEqual([]);
    expect(await a.ref("penalised").ask({ type: "trade", qty: 3 })).toBe(3);
  });

  it("drift found by the verifier on its timer lowers trust read on the trust actor's timer, down to quarantine (fake clocks)", async () => {
    await using cluster = await startCluster();
    const [a, b, c] = await cluster3(cluster.urls);
    await using _a = a;
    await using _b = b;
    await using _c = c;
    const { supervisor } = await oversight(a);
    const clock = new FakeClock(Date.now());
    const verifier = await new VerifierClient({ clock, appraiseEveryMs: 60_000, params: { detector: { baseline: 20 } } }).attach(c).start();
    const trust = await new TrustClient({ clock, ingest: { everyMs: 60_000 }, quarantine: { threshold: 0.6, signer: supervisor, ackDeadlineMs: 20_000 } }).attach(a).start();
    const trader = await b.spawn("drifter", PenalisedTrader);
    // a baseline of sizes 40..59, then a "model update": sizes around 90, still inside the limit of 100
    for (let i = 0; i < 20; i++) await trader.ask({ type: "trade", qty: 40 + i });
    for (let i = 0; i < 20; i++) await trader.ask({ type: "trade", qty: 90 + (i % 5) });
    expect(await verifier.findings()).toEqual([]); // nothing happens before the timers fire

    clock.advance(60_000); // both timers fire: the verifier appraises, the trust actor ingests
    await eventually(async () => (await verifier.findings("drifter").catch(() => [])).filter((f) => f.series === "trade.qty").length >= 4, 30_000, "drift findings");
    clock.advance(60_000); // the trust actor's next tick reads the drift evidence
    await eventually(async () => (await trust.quarantines().catch(() => [])).length === 1, 30_000, "quarantine");
    const [q] = await trust.quarantines();
    expect(q).toMatchObject({ agent: "drifter", cause: "score", issued: true, acked: 1, expected: 1 });
    expect((await a.assurance.store.get(q?.evidence ?? "?"))?.exec_act).toBe("tether.verifier.drift");
    const why = await trust.show("drifter");
    expect(why.shares.map((s) => s.observer).sort()).toEqual(["agent:verifier", `node:${b.id}`]);
    expect(why.score.score).toBeLessThan(0.6);
    expect(pausesOn(b, "drifter")).toEqual([q?.overrideId]);
  });
});
