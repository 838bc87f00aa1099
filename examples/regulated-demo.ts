/**
 * `npm run demo:regulated`: the incident pipeline in the regulated profile. Every significant action
 * is a signed ECT linked to its parents, appended to the audit ledger (run by its own node, with its
 * own key) before dependent work proceeds. At the end the ledger is verified, exported, and each
 * kind of single-record tampering is shown to be caught at the right record.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLedger, createAuditLedgerDeps } from "../actors/index.ts";
import { canonicalJson, decodeEctUnverified, parseRecord, verifyLedger, type LedgerRecord } from "../protocols/index.ts";
import { LedgerStream, Node, rollUpUsage, silentLogger, type NodeOptionsInput } from "../runtime/index.ts";
import { Reviewer, Specialist, Triage } from "./triage/agents.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);
const keyDir = mkdtempSync(join(tmpdir(), "tether-demo-keys-"));
const options = (nodeId: string, servers: string[]): NodeOptionsInput => ({
  nodeId,
  network: "clinic",
  servers,
  assurance: { profile: "regulated", keyDir },
});

say("Tether demo, regulated profile: signed, linked, audited actions\n");
const ops = await Node.create(options("ops", (process.env["TETHER_NATS_URL"] ?? "").split(",").filter(Boolean)), { logger: silentLogger });
const auditor = await Node.create(options("auditor", [ops.url]), { logger: silentLogger });
const experts = await Node.create(options("experts", [ops.url]), { logger: silentLogger });
say(`- nodes ops, auditor and experts on ${ops.url}; each signs with its own ES256 key (${ops.assurance.kid?.slice(0, 12)}…)`);

try {
  await auditor.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(auditor, { keyDir, checkpointEvery: 8 })] });
  say("- the audit ledger runs on node auditor with a key of its own (role audit), apart from the agents");
  await ops.spawn("triage", Triage);
  await ops.spawn("reviewer", Reviewer);
  await experts.spawn("network-specialist", Specialist, { args: ["network"] });
  await experts.spawn("database-specialist", Specialist, { args: ["database"] });

  const incidents = [
    { type: "incident.report", id: "INC-201", summary: "database replica lag at 40s", severity: "high" },
    { type: "incident.report", id: "INC-202", summary: "core router dropping packets", severity: "critical" },
  ] as const;
  for (const incident of incidents) {
    const r = await ops.ref<typeof Triage>("triage").ask(incident);
    say(`\n${incident.id}: ${r.specialist} proposes "${r.proposal}" → ${r.approved ? "APPROVED" : "HELD for a human"}`);
  }

  await auditor.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" });

  const raw = await LedgerStream.readAll(auditor.nats, auditor.subjects);
  const records = raw.map((r) => parseRecord(r));
  say(`\nThe ledger holds ${records.length} records:`);
  for (const r of records) {
    if (r.kind === "ect") {
      const claims = decodeEctUnverified(r.body.token).claims;
      say(`  #${r.index} ect   ${r.body.exec_act.padEnd(22)} level ${r.body.level}  parents ${JSON.stringify(r.body.par.map((p) => p.slice(0, 8)))}  by ${String(claims["iss"])}`);
    } else if (r.kind === "event") say(`  #${r.index} event ${r.body.event}`);
    else say(`  #${r.index} checkpoint over #${r.body.fromIndex}..#${r.body.toIndex}, Merkle root ${r.body.merkleRoot.slice(0, 12)}…, signed`);
  }

  const resolveKey = (kid: string) => auditor.assurance.keys.resolve(kid);
  const verdict = await verifyLedger(records, { resolveKey });
  say(`\nLedger verification: ${verdict.ok ? "OK" : "FAILED"} (${verdict.records} records, ${verdict.checkpoints} checkpoints)`);

  const exportDir = join(".tether", "demo");
  mkdirSync(exportDir, { recursive: true });
  const file = join(exportDir, "clinic-ledger.jsonl");
  writeFileSync(file, `${records.map((r) => canonicalJson(r)).join("\n")}\n`);
  say(`Exported to ${file}. Tampering with a copy, one change at a time:`);
  const middle = Math.floor(records.length / 2);
  const tamperings: [string, LedgerRecord[]][] = [
    [`edit record #${middle}`, records.map((r, i) => (i === middle ? ({ ...r, at: r.at + 1 } as LedgerRecord) : r))],
    [`delete record #${middle}`, records.filter((_, i) => i !== middle)],
    [`swap records #${middle} and #${middle + 1}`, records.map((r, i) => (i === middle ? records[middle + 1] : i === middle + 1 ? records[middle] : r) as LedgerRecord)],
    [`insert a forged record at #${middle}`, [...records.slice(0, middle), { ...(records[middle] as LedgerRecord), at: 1 }, ...records.slice(middle)]],
  ];
  for (const [what, copy] of tamperings) {
    const v = await verifyLedger(copy, { resolveKey });
    say(`  ${what.padEnd(36)} → ${v.ok ? "NOT DETECTED" : `detected: ${v.firstProblem?.problem} at position ${v.firstProblem?.position}`}`);
  }

  say("\nUsage recorded in the ECTs, by agent:");
  const usage = rollUpUsage(
    records.flatMap((r) => (r.kind === "ect" ? [{ token: r.body.token, network: r.network }] : [])),
    "agent",
  );
  for (const row of usage) say(`  ${row.key.padEnd(14)} actions ${row.actions}  wall ${row.wallMs} ms  messages ${row.messages}  units ${JSON.stringify(row.units)}`);
  say(`\nCheck it yourself against a running network: npx tether audit verify --nats <url> --network clinic`);
} finally {
  await experts.close();
  await auditor.close();
  await ops.close();
  rmSync(keyDir, { recursive: true, force: true });
}
say("Done.");
