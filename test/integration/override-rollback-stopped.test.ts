import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { OverrideClient } from "../../actors/index.ts";
import { Dispenser, Pharmacy, Prescriber } from "../../examples/hospital/agents.ts";
import { compensationDigest, decodeEnvelope, encodeSend, generateSigningKey, hasCode, signControl, type CompensationRequest, type RollbackReport } from "../../protocols/index.ts";
import type { NodeEvent } from "../../runtime/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { keyDir, ledgerEvents, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const dispensed = (journal: readonly string[]): number => journal.filter((l) => l.startsWith("dispenser: dispensed unit")).length;
const batch = { type: "dispense.batch", order: "RX-9", drug: "paracetamol", doseMg: 1000, units: 1 } as const;

describe("rollback of a stopped agent", () => {
  it("compensates a stopped agent's completed actions while the stop stays in force; its ordinary work stays refused; a forged compensation is refused", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await startOversight(node);
    const { operator } = await operatorKeys(node);
    const journal: string[] = [];
    await node.spawn("prescriber", Prescriber, { args: [journal] });
    await node.spawn("pharmacy", Pharmacy, { args: [journal] });
    const dispenser = node.ref<typeof Dispenser>("dispenser");
    await node.spawn("dispenser", Dispenser, { args: [journal, 100] });
    const refused: string[] = [];
    node.onEvent((e: NodeEvent) => {
      if (e.type === "control-refused") refused.push(e.code);
    });

    const rx = (await node.ref<typeof Prescriber>("prescriber").ask({ type: "prescribe", order: "RX-2", patient: "P-18", drug: "paracetamol", doseMg: 1000, units: 50 })) as { workflowId: string };
    await eventually(() => dispensed(journal) >= 2, 10_000, "two units dispensed");
    const client = new OverrideClient({ nc: node.nats, signer: operator });
    const stop = await client.issue({ action: "stop", level: "emergency", scope: { kind: "agent", id: "dispenser" }, reason: "wrong patient" });
    expect(stop.coverage.acked.get("dispenser")).toMatchObject({ outcome: "applied", aborted: true });
    await eventually(() => journal.some((l) => l.includes("batch for order RX-2")) && node.overrides.active().length === 1, 5_000, "stop held");
    const n = dispensed(journal);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThan(50);

    // ordinary work is refused while stopped
    await expect(dispenser.ask(batch)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));

    // the attacker: a compensation request whose grant is signed by a key the network never published,
    // published straight to the stopped actor's subject. It passes the stop's gate but is refused before compensate() runs.
    const nc = await connect({ servers: server.url });
    try {
      const stranger = await generateSigningKey("ES256");
      const request: CompensationRequest = { type: "tether.rollback.v1.compensate", jti: "forged-jti", action: "dispense_unit", compensation: "recall", params: { order: "RX-2", unit: 1 }, result: undefined, attempt: 1 };
      const grant = await signControl({ type: "tether.rollback.v1.compensate-grant", actorId: "dispenser", jti: request.jti, attempt: 1, digest: compensationDigest(request) }, { key: stranger, network: node.network, target: "dispenser", now: Date.now() });
      const reply = await nc.request(node.subjects.actor("dispenser"), encodeSend("compensate", "forged-compensate-0001", "mallory", false, { type: "tether.rollback.v1.signed-compensate", request, grant }), { timeout: 10_000 });
      expect(decodeEnvelope(reply.data).kind).toBe("error");
      await eventually(() => refused.length > 0, 5_000, "forged grant refused");
      expect(journal.some((l) => l.startsWith("dispenser: recalled"))).toBe(false);
    } finally {
      await nc.close();
    }

    // the operator's rollback runs through the stop: every dispensed unit is recalled, newest first
    const rb = await client.issue({ action: "rollback", scope: { kind: "workflow", wid: rx.workflowId }, rollback: { workflow: rx.workflowId }, reason: "recall" });
    const report = rb.reply.result as RollbackReport;
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => `${s.actor}:${s.compensation}:${s.outcome}`)).toEqual([
      ...Array.from({ length: n }, () => "dispenser:recall:compensated"),
      "pharmacy:void_order:compensated",
      "prescriber:cancel_prescription:compensated",
    ]);
    const recalls = journal.filter((l) => l.startsWith("dispenser: recalled")).map((l) => Number(/unit (\d+)/.exec(l)?.[1]));
    expect(recalls).toEqual(Array.from({ length: n }, (_, i) => n - i));
    expect((await ledgerEvents(node, "override.rollback.done"))[0]).toMatchObject({ subject: rb.id, workflow: rx.workflowId });

    // the stop is still in force afterwards: held, and ordinary work still refused
    expect(node.overrides.active().map((s) => s.id)).toEqual([stop.id]);
    await expect(dispenser.ask(batch)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));
    expect(dispensed(journal)).toBe(n);
  });
});
