import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect } from "@nats-io/transport-node";
import { Actor, AuditLedger, DRIFT_ACT, VerifierClient, createAuditLedgerDeps, type VerifierFinding } from "../../actors/index.ts";
import { parseRecord } from "../../protocols/index.ts";
import { LedgerStream, type ActorContext, type Node } from "../../runtime/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { normal, seededRandom } from "../support/seeded-random.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-verifier-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const Order = z.strictObject({ type: z.literal("order"), size: z.number() });
type Order = z.infer<typeof Order>;

/** A synthetic trading agent: each order is a compensable action (so its params are stored with its ECT). */
class Trader extends Actor<Order> {
  static override readonly protocol = Order;
  async handle(msg: Order, ctx: ActorContext) {
    return ctx.act("order", { size: msg.size }, () => msg.size, { compensate: "cancel" });
  }
  compensate(): void {}
}

const ledgerEvents = async (node: Node, event: string) =>
  (await LedgerStream.readAll(node.nats, node.subjects))
    .map((r) => parseRecord(r))
    .flatMap((r): Record<string, unknown>[] => (r.kind === "event" && r.body.event === event ? [{ subject: r.body.subject, ...r.body.details }] : []));

const BASELINE = 100;
/** The documented bound (docs/verifier.md): a 1 sd shift of a param is flagged within 60 actions. */
const BOUND = 60;

describe("the drift verifier on a real NATS server", () => {
  it("flags an order size drifting inside its limits within the bound, with evidence ECT and ledger event; a stationary agent raises nothing", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { profile: "standard", keyDir } });
    await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
    const steady = await node.spawn("steady", Trader);
    const drifter = await node.spawn("drifter", Trader);
    const verifier = await new VerifierClient().attach(node).start();

    const random = seededRandom(42);
    // a long stationary run, size ~ N(100, 10) (well inside any limit of, say, 200)
    for (let i = 0; i < 1500; i += 1) await steady.ask({ type: "order", size: 100 + 10 * normal(random) });
    // the drifter: baseline and 50 more stationary orders, then a "model update" moves its mean by 1 sd
    for (let i = 0; i < BASELINE + 50; i += 1) await drifter.ask({ type: "order", size: 100 + 10 * normal(random) });
    const before = await verifier.appraiseAll(500);
    expect(before.findings.filter((f) => f.series !== "rate")).toEqual([]);
    expect(before.appraised).toBe(1650);

    let drifted = 0;
    let finding: VerifierFinding | undefined;
    while (finding === undefined && drifted < 200) {
      for (let i = 0; i < 10; i += 1, drifted += 1) await drifter.ask({ type: "order", size: 110 + 10 * normal(random) });
      finding = (await verifier.appraiseAll(500)).findings.find((f) => f.agent === "drifter" && f.series === "order.size");
    }
    console.log(`verifier: drift flagged ${(finding?.after ?? Number.NaN) - 50} actions after the change; rate findings of the stationary agent: ${(await verifier.findings("steady")).filter((f) => f.series === "rate").length}`);
    expect(finding).toMatchObject({ agent: "drifter", series: "order.size", direction: "up" });
    expect(finding?.after).toBeGreaterThan(50); // not before the change
    expect((finding?.after ?? Infinity) - 50).toBeLessThanOrEqual(BOUND);

    // the finding is a signed evidence ECT whose parent is the action that raised it, and a ledger event
    const evidence = await node.assurance.store.get(finding?.evidence ?? "missing");
    expect(evidence).toMatchObject({ exec_act: DRIFT_ACT, par: [finding?.ect] });
    expect(evidence?.token.split(".")).toHaveLength(3);
    expect((await node.assurance.store.get(finding?.ect ?? "missing"))?.actor).toBe("drifter");
    await eventually(async () => (await ledgerEvents(node, "drift")).some((e) => e["evidence"] === finding?.evidence), 10_000, "drift ledger event");

    // the stationary agent raised nothing on its params, failures or peers over the whole run
    const all = await verifier.findings("steady");
    expect(all.filter((f) => f.series !== "rate")).toEqual([]);
  });

  it("an attacker who writes forged ECT records into the store cannot create or hide drift: they are rejected and recorded", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { profile: "standard", keyDir } });
    await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
    const steady = await node.spawn("steady", Trader);
    const verifier = await new VerifierClient({ params: { detector: { baseline: 20 } } }).attach(node).start();
    const random = seededRandom(7);
    for (let i = 0; i < 40; i += 1) await steady.ask({ type: "order", size: 100 + 10 * normal(random) });

    // the attacker forges records for "steady" with huge sizes: an unsigned token and a copy of a real token under another jti
    const real = [];
    for await (const r of node.assurance.store.all()) if (r.actor === "steady") real.push(r);
    const nc = await connect({ servers: server.url });
    try {
      const bucket = `$KV.${node.subjects.ectBucket()}`;
      const unsigned = Buffer.from(JSON.stringify({ iss: `tether://${node.network}/agent/steady`, jti: "forged-1", exec_act: "order" })).toString("base64url");
      for (let i = 0; i < 30; i += 1) {
        const copy = { ...real[0], jti: `forged-copy-${i}` };
        const fake = { ...real[0], jti: `forged-${i}`, token: unsigned };
        await nc.request(`${bucket}.ect.${copy.jti}`, JSON.stringify(copy));
        await nc.request(`${bucket}.ect.${fake.jti}`, JSON.stringify(fake));
      }
    } finally {
      await nc.close();
    }
    const result = await verifier.appraiseAll();
    expect(result.rejected).toBe(60);
    expect(result.findings.filter((f) => f.series !== "rate")).toEqual([]);
    await eventually(async () => (await ledgerEvents(node, "violation")).some((e) => e["source"] === "verifier"), 10_000, "verifier violation");
  });

  it("resumes from its checkpoint after a restart: same position, baselines kept, no record appraised twice", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { profile: "standard", keyDir } });
    const trader = await node.spawn("steady", Trader);
    const verifier = await new VerifierClient({ params: { detector: { baseline: 20 } } }).attach(node).start();
    const random = seededRandom(9);
    for (let i = 0; i < 30; i += 1) await trader.ask({ type: "order", size: 100 + 10 * normal(random) });
    const first = await verifier.appraiseAll();
    expect(first.appraised).toBe(30);
    await node.stopActor(verifier.actorId);
    await verifier.start();
    for (let i = 0; i < 5; i += 1) await trader.ask({ type: "order", size: 100 + 10 * normal(random) });
    const second = await verifier.appraiseAll();
    expect(second.appraised).toBe(5);
    expect(second.position).toBeGreaterThan(first.position);
  });
});
