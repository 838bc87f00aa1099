/**
 * `npm run demo:hospital`: the seed-02 hospital scenario with a human in the loop.
 *
 * Path 1: the prescribing agent hallucinates a dose ten times the usual maximum; the pharmacy's policy
 * gates it; an approver (a person's key) rejects it, signed; the dispense never runs.
 * Path 2: a second order is within bounds and reaches the dispensing agent, which dispenses the batch
 * unit by unit; the operator hits an emergency stop scoped to the dispensing agent (acknowledged), then
 * forces a rollback of the workflow while the stop stays in force: every dispensed unit is recalled, newest first.
 * At the end: the audit trail, and the ledger verified.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApprovalClient, AuditLedger, OverrideActor, OverrideClient, createAuditLedgerDeps, createOverridePorts } from "../actors/index.ts";
import {
  OVERRIDE_ACTOR_ID,
  decodeEctUnverified,
  exportPrivateJwk,
  generateSigningKey,
  parseRecord,
  verifyLedger,
  type ApprovalPolicyInput,
  type ApprovalRecord,
  type KeyRole,
  type RollbackReport,
} from "../protocols/index.ts";
import { ControlSigner, LedgerStream, Node, approvalLink, saveSigningKey, silentLogger, systemClock, type NodeOptionsInput } from "../runtime/index.ts";
import { Dispenser, Pharmacy, Prescriber } from "./hospital/agents.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);
const keyDir = mkdtempSync(join(tmpdir(), "tether-hospital-keys-"));
const journal: string[] = [];
let shown = 0;
const flush = (indent = "  ") => {
  for (; shown < journal.length; shown++) say(`${indent}${journal[shown]}`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};
const codeOf = (error: unknown): string => (error as { code?: string }).code ?? String(error);

/** The pharmacy's policy: a dose above twice the usual maximum needs an approver. */
const policies: ApprovalPolicyInput[] = [
  {
    id: "dose-above-2x-usual-max",
    action: "dispense",
    summary: "Dose above twice the usual maximum: a pharmacist-approver must decide",
    when: [{ param: "doseMg", op: "gt", ref: { param: "usualMaxMg", times: 2 } }],
    gate: { type: "approval", deciders: { roles: ["approver"] }, timeoutMs: 600_000, onReject: { path: "abort" } },
  },
];

const options = (nodeId: string, servers: string[]): NodeOptionsInput => ({ nodeId, network: "hospital", servers, assurance: { profile: "regulated", keyDir } });
const approvals = new ApprovalClient();
const deps = { logger: silentLogger, actionInterceptors: [approvalLink({ policies, port: approvals, clock: systemClock, profile: "regulated" })] };

say("Tether demo: the hospital (seed 02), a human in the loop\n");
const ward = await Node.create(options("ward", (process.env["TETHER_NATS_URL"] ?? "").split(",").filter(Boolean)), deps);
const pharmacyNode = await Node.create(options("pharmacy", [ward.url]), deps);
try {
  await ward.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(ward, { keyDir, checkpointEvery: 1000 })] });
  await approvals.attach(ward).start();
  const ports = await createOverridePorts(ward);
  ward.registerType(OverrideActor, { args: [ports] });
  await ward.spawn(OVERRIDE_ACTOR_ID, OverrideActor, { args: [ports] });
  await ward.spawn("prescriber", Prescriber, { args: [journal] });
  await pharmacyNode.spawn("pharmacy", Pharmacy, { args: [journal] });
  await pharmacyNode.spawn("dispenser", Dispenser, { args: [journal, 250] });
  say(`- nodes ward and pharmacy on ${ward.url} (regulated profile: every action a signed ECT in the audit ledger)`);
  say("- prescriber on ward; pharmacy and dispenser on pharmacy; audit ledger, approvals and override actors on ward");

  // people: the owner publishes an approver's and an operator's key (as `tether keys create-operator` does)
  const person = async (publisher: ControlSigner | "self", role: KeyRole, name: string): Promise<ControlSigner> => {
    const key = await generateSigningKey("ES256");
    const file = join(keyDir, `${name}.jwk.json`);
    saveSigningKey(file, await exportPrivateJwk(key));
    const signer = await ControlSigner.fromKeyFile(file, ward.network);
    const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } } as const;
    await ward.controlNode(ward.id, request, 10_000, { signer: publisher === "self" ? signer : publisher });
    return signer;
  };
  const owner = await person("self", "owner", "olivia");
  const drHouse = await person(owner, "approver", "dr-house");
  const oscar = await person(owner, "operator", "oscar");
  say("- people: olivia (owner), dr-house (approver), oscar (operator, on call), each with an ES256 key\n");
  say(`Policy ${policies[0]?.id}: dispense with doseMg > 2 × usualMaxMg needs a decision by role approver`);

  // ---- path 1: a hallucinated dose, gated and rejected
  say("\nPath 1. Order RX-1: the prescribing agent hallucinates methotrexate 250 mg (usual max 25 mg)");
  const rx1 = ward.ref<typeof Prescriber>("prescriber").ask({ type: "prescribe", order: "RX-1", patient: "P-17", drug: "methotrexate", doseMg: 250, units: 4 }, { timeoutMs: 60_000 });
  const rx1Outcome = rx1.then(() => "ran", (e: unknown) => codeOf(e));
  let gate: ApprovalRecord | undefined;
  await until(async () => (gate = (await approvals.list("pending")).find((r) => r.action === "dispense")) !== undefined, "the gate to open");
  flush();
  const g = gate as ApprovalRecord;
  say(`  GATE ${g.id.slice(0, 8)}: ${g.actorId} wants to ${g.action}, held by policy ${g.policy}`);
  say(`    summary:   ${g.explanation.summary}`);
  say(`    inputs:    ${JSON.stringify(g.explanation.inputs)}`);
  say(`    rationale: ${g.explanation.rationale ?? "-"}`);
  say(`    deciders:  roles ${g.gate.deciders.roles?.join(", ")}; on reject: ${g.gate.onReject.path}; request ECT ${g.requestEct?.jti.slice(0, 8) ?? "-"}`);
  say(`  dispenser has dispensed nothing: ${journal.some((l) => l.startsWith("dispenser")) ? "NO" : "yes"}`);
  const decided = await approvals.decide(drHouse, g.id, "reject", "10× the usual maximum: likely a hallucinated dose; call the prescriber");
  const decision = decided.decisions.at(-1);
  say(`  DECISION by ${decision?.by} (${decision?.role}, signed with ${decision?.kid?.slice(0, 10)}…): ${decision?.decision}, "${decision?.reason}" → approval ${decided.status}`);
  say(`  order RX-1 → ${await rx1Outcome}`);
  flush();
  say(`  dispensed units of RX-1: ${journal.filter((l) => l.includes("dispensed unit") && l.includes("RX-1")).length}`);

  // ---- path 2: within bounds, dispensing starts, emergency stop, forced rollback
  say("\nPath 2. Order RX-2: paracetamol 1000 mg × 8 units (within bounds: no gate)");
  const rx2 = (await ward.ref<typeof Prescriber>("prescriber").ask({ type: "prescribe", order: "RX-2", patient: "P-18", drug: "paracetamol", doseMg: 1000, units: 8 })) as { workflowId: string };
  const wid = rx2.workflowId;
  await until(() => journal.filter((l) => l.includes("dispensed unit") && l.includes("RX-2")).length >= 3, "three units dispensed");
  flush();
  say("  the ward reports the wrong patient: oscar hits EMERGENCY STOP on the dispensing agent");
  const overrides = new OverrideClient({ nc: ward.nats, signer: oscar });
  const stop = await overrides.issue({ action: "stop", level: "emergency", scope: { kind: "agent", id: "dispenser" }, reason: "RX-2: wrong patient, stop dispensing" }, (_coverage, ack) => {
    if (ack !== undefined) say(`    ack from ${ack.actorId} on node ${ack.nodeId}: ${ack.outcome}, handler aborted: ${ack.aborted}, queued kept: ${ack.queued}`);
  });
  const c = stop.coverage;
  say(`  STOP ${stop.id.slice(0, 8)}: coverage ${c.acked.size}/${c.expected?.length ?? "?"} acknowledged${c.missing.length > 0 ? `, missing ${c.missing.join(", ")}` : ""}${stop.escalated ? " (ESCALATED)" : ""}`);
  await sleep(300);
  flush();
  const dispensed = journal.filter((l) => l.includes("dispensed unit") && l.includes("RX-2")).length;
  say(`  the batch stopped after ${dispensed} of 8 units`);

  // the stop stays active: ordinary work is refused, but the signed compensation requests (the operator's recovery) pass
  const refused = await pharmacyNode.ref<typeof Dispenser>("dispenser").ask({ type: "dispense.batch", order: "RX-3", drug: "paracetamol", doseMg: 1000, units: 1 }, { timeoutMs: 10_000 }).then(() => "ran", (e: unknown) => codeOf(e));
  say(`  the stop stays in force: new work for the dispenser → ${refused}`);
  say(`  oscar forces a rollback of workflow ${wid.slice(0, 12)}… (everything RX-2 caused) while the dispenser is still stopped`);
  const rb = await overrides.issue({ action: "rollback", scope: { kind: "workflow", wid }, rollback: { workflow: wid }, reason: "RX-2: recall the dispensed units" });
  const report = rb.reply.result as RollbackReport;
  say("  compensations, in order:");
  report.steps.forEach((s, i) => say(`    ${i + 1}. ${s.actor.padEnd(10)} ${String(s.compensation).padEnd(20)} ${s.outcome}`));
  flush("    ");
  say(`  Rollback ${report.ok ? "complete" : "INCOMPLETE"}: ${report.steps.map((s) => `${s.actor}:${s.compensation}`).join(" → ")}`);
  const lifted = await overrides.lift(stop.id, { disposition: "dead-letter", reason: "batch recalled" });
  say(`  stop lifted after the recall (${lifted.coverage.acked.size}/${lifted.coverage.expected?.length ?? "?"} acknowledged; what it kept is dead-lettered)`);

  // ---- the audit trail
  await ward.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });
  const records = (await LedgerStream.readAll(ward.nats, ward.subjects)).map((r) => parseRecord(r));
  say(`\nAudit trail (${records.length} ledger records):`);
  for (const r of records) {
    if (r.kind === "ect") {
      const iss = String(decodeEctUnverified(r.body.token).claims["iss"]);
      say(`  #${String(r.index).padEnd(3)} ect        ${r.body.exec_act.padEnd(28)} by ${iss}`);
    } else if (r.kind === "event") {
      const d = r.body.details as Record<string, unknown>;
      const who = d["by"] === undefined ? "" : ` by ${typeof d["by"] === "object" ? String((d["by"] as { owner?: string }).owner) : String(d["by"])}`;
      const extra = r.body.event === "override.ack" ? ` actors ${JSON.stringify(d["actors"])}` : d["reason"] === undefined ? "" : ` "${String(d["reason"])}"`;
      say(`  #${String(r.index).padEnd(3)} event      ${r.body.event.padEnd(28)}${who}${extra}`);
    } else say(`  #${String(r.index).padEnd(3)} checkpoint over #${r.body.fromIndex}..#${r.body.toIndex}, signed`);
  }
  const verdict = await verifyLedger(records, { resolveKey: (kid: string) => ward.assurance.keys.resolve(kid) });
  say(`\nLedger verification: ${verdict.ok ? "OK" : `FAILED (${verdict.firstProblem?.problem} at ${verdict.firstProblem?.position})`} (${verdict.records} records, ${verdict.checkpoints} checkpoints)`);
} finally {
  await pharmacyNode.close();
  await ward.close();
  rmSync(keyDir, { recursive: true, force: true });
}
say("Done.");
