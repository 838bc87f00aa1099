import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { OverrideClient } from "../../actors/index.ts";
import { Dispenser, Pharmacy, Prescriber } from "../../examples/hospital/agents.ts";
import { OVERRIDE_ACTOR_ID, TETHER_EXT_PREFIX, decodeEctUnverified, parseRecord, verifyLedger } from "../../protocols/index.ts";
import { LedgerStream, OVERRIDE_ACK_ACT, OVERRIDE_SIGNAL_ACT, overrideSignalJti } from "../../runtime/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { keyDir, ledgerEvents, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

describe("override signals and acknowledgements as ECTs", () => {
  it("a stop mints the signal's ECT and the acknowledgement's ECT, parented to the signal and to the action it interrupted, in the store and the ledger", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { profile: "regulated", keyDir } });
    await startOversight(node);
    const { operator } = await operatorKeys(node);
    const journal: string[] = [];
    await node.spawn("prescriber", Prescriber, { args: [journal] });
    await node.spawn("pharmacy", Pharmacy, { args: [journal] });
    await node.spawn("dispenser", Dispenser, { args: [journal, 100] });
    const rx = (await node.ref<typeof Prescriber>("prescriber").ask({ type: "prescribe", order: "RX-2", patient: "P-18", drug: "paracetamol", doseMg: 1000, units: 50 })) as { workflowId: string };
    await eventually(() => journal.filter((l) => l.startsWith("dispenser: dispensed unit")).length >= 2, 10_000, "two units dispensed");

    const client = new OverrideClient({ nc: node.nats, signer: operator });
    const stop = await client.issue({ action: "stop", level: "emergency", scope: { kind: "agent", id: "dispenser" }, reason: "wrong patient" });
    expect(stop.coverage.acked.get("dispenser")).toMatchObject({ outcome: "applied", aborted: true });

    // the signal's ECT: fixed jti, a root of its own, issued by the override actor
    const signalJti = overrideSignalJti(stop.id);
    await eventually(async () => (await node.assurance.store.get(signalJti)) !== undefined, 5_000, "signal ECT stored");
    const signal = await node.assurance.store.get(signalJti);
    expect(signal).toMatchObject({ exec_act: OVERRIDE_SIGNAL_ACT, par: [], actor: OVERRIDE_ACTOR_ID });

    // the ack's ECT: parents are the signal's ECT and the dispenser's latest action (the unit in flight)
    let ackJti: string | undefined;
    await eventually(async () => {
      for await (const r of node.assurance.store.all()) if (r.exec_act === OVERRIDE_ACK_ACT && r.par.includes(signalJti)) ackJti = r.jti;
      return ackJti !== undefined;
    }, 5_000, "ack ECT stored");
    const ack = await node.assurance.store.get(ackJti as string);
    // the interrupted action is the last unit completed before the stop (a unit the stop aborted mid-run
    // is recorded afterwards, failed, and is not the handler's latest action when the ack is made)
    const units = (await node.assurance.store.listWorkflow(rx.workflowId)).filter((r) => r.exec_act === "dispense_unit" && r.outcome === "ok").sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    const lastUnit = units.at(-1);
    expect(lastUnit).toBeDefined();
    expect(ack).toMatchObject({ exec_act: OVERRIDE_ACK_ACT, actor: "dispenser", wid: rx.workflowId });
    expect(ack?.par).toEqual([signalJti, lastUnit?.jti]);
    const claims = decodeEctUnverified(ack?.token ?? "").claims;
    expect(claims["ext"]).toMatchObject({ [`${TETHER_EXT_PREFIX}override`]: { overrideId: stop.id, outcome: "applied", aborted: true, interrupted: lastUnit?.jti } });

    // both are in the audit ledger, next to the existing events, and the ledger verifies
    await eventually(async () => {
      const ects = (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r)).flatMap((r) => (r.kind === "ect" ? [r.body] : []));
      return ects.some((e) => e.jti === signalJti) && ects.some((e) => e.jti === ackJti);
    }, 5_000, "signal and ack ECTs in the ledger");
    expect((await ledgerEvents(node, "override.issued"))[0]).toMatchObject({ subject: stop.id });
    expect((await ledgerEvents(node, "override.ack"))[0]).toMatchObject({ subject: stop.id, actors: ["dispenser"] });
    const records = (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r));
    const verdict = await verifyLedger(records, { resolveKey: (kid: string) => node.assurance.keys.resolve(kid) });
    expect(verdict.ok).toBe(true);
  });
});
