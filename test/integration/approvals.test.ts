import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { AuditLedger, ApprovalClient, createAuditLedgerDeps } from "../../actors/index.ts";
import {
  ErrorReply,
  decodeEnvelope,
  encodeSend,
  exportPrivateJwk,
  generateSigningKey,
  hasCode,
  parseRecord,
  signControl,
  type ApprovalPolicyInput,
  type ApprovalRecord,
  type KeyRole,
} from "../../protocols/index.ts";
import { ControlSigner, FakeClock, LedgerStream, approvalLink, saveSigningKey, type Node } from "../../runtime/index.ts";
import { Pharmacist } from "../fixtures/hitl-agents.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-approval-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const personKey = async (node: Node, publisher: ControlSigner | "self", role: KeyRole, name: string): Promise<ControlSigner> => {
  const key = await generateSigningKey("ES256");
  const file = join(keyDir, `${name}-${role}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const signer = await ControlSigner.fromKeyFile(file, node.network);
  const request = { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } } as const;
  await node.controlNode(node.id, request, 5_000, { signer: publisher === "self" ? signer : publisher });
  return signer;
};

const gate: ApprovalPolicyInput["gate"] = { deciders: { roles: ["approver"] }, timeoutMs: 60_000 };
const overBound: NonNullable<ApprovalPolicyInput["when"]> = [{ param: "doseMg", op: "gt", ref: { param: "usualMaxMg", times: 2 } }];
const policies: ApprovalPolicyInput[] = [
  { id: "abort", action: "dispense", when: [...overBound], gate: { ...gate, escalation: [{ deciders: { roles: ["admin"] }, timeoutMs: 30_000 }] } },
  { id: "reroute", action: "dispense-reroute", when: [...overBound], gate: { ...gate, onReject: { path: "reroute", to: "senior-pharmacist" } } },
  { id: "held", action: "dispense-held", gate: { ...gate, holdMs: 10_000 } },
  { id: "notify", action: "dispense-notify", gate: { ...gate, type: "notify" } },
];

/** A node whose ctx.act goes through the approval gate, with the approvals actor on a fake clock. */
const setup = async (url: string) => {
  const clock = new FakeClock(Date.now());
  const approvals = new ApprovalClient({ clock, tickMs: 1_000, waitRoundMs: 5_000 });
  const node = await startNode(url, {}, { actionInterceptors: [approvalLink({ policies, port: approvals, clock })] });
  approvals.attach(node);
  await approvals.start();
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
  const log: string[] = [];
  const pharmacist = await node.spawn("pharmacist", Pharmacist, { args: [log] });
  await node.spawn("senior-pharmacist", Pharmacist, { args: [log] });
  const owner = await personKey(node, "self", "owner", "olivia");
  const approver = await personKey(node, owner, "approver", "dr-house");
  return { clock, approvals, node, log, pharmacist, owner, approver };
};

const pendingOne = async (approvals: ApprovalClient, action: string): Promise<ApprovalRecord> => {
  let found: ApprovalRecord | undefined;
  await eventually(async () => {
    found = (await approvals.list("pending")).find((r) => r.action === action);
    return found !== undefined;
  }, 10_000, `a pending approval for ${action}`);
  return found as ApprovalRecord;
};

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return "ok";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
};

describe("approval gates", () => {
  it("runs a gated action only after a signed approval, and links request, decision and action ECTs", async () => {
    await using server = await startServer();
    const { approvals, node, log, pharmacist, approver } = await setup(server.url);
    await using _node = node;
    // a normal dose is not gated
    expect(await pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 500, usualMaxMg: 1000 })).toEqual({ dispensed: 500 });
    const reply = pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 5000, usualMaxMg: 1000, rationale: "weight-based" }, { timeoutMs: 60_000 });
    const pending = await pendingOne(approvals, "dispense");
    expect(pending.explanation).toMatchObject({ summary: "pharmacist wants to dispense", inputs: { doseMg: 5000, usualMaxMg: 1000 }, rationale: "weight-based" });
    expect(log).toEqual(["dispense:500"]); // waiting: not run
    const decided = await approvals.decide(approver, pending.id, "approve", "checked the chart");
    expect(decided.status).toBe("approved");
    expect(await reply).toEqual({ dispensed: 5000 });
    expect(log).toEqual(["dispense:500", "dispense:5000"]);
    expect((await approvals.get(pending.id)).status).toBe("executed");

    // the DAG: request ECT ← decision ECT ← the action's ECT
    const store = node.assurance.store;
    const decision = (await approvals.get(pending.id)).decisions[0];
    const requestJti = pending.requestEct?.jti ?? "";
    expect((await store.get(decision?.ect?.jti ?? ""))?.par).toEqual([requestJti]);
    expect((await store.get(decision?.ect?.jti ?? ""))?.exec_act).toBe("approval.approve");
    const inWorkflow = await store.listWorkflow(pending.wid ?? "");
    const action = inWorkflow.find((r) => r.exec_act === "dispense" && r.actor === "pharmacist" && r.par.includes(decision?.ect?.jti ?? "-"));
    expect(action?.outcome).toBe("ok");
    // the ledger has the request and the grant, with who decided
    const events = async () => (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r)).flatMap((r) => (r.kind === "event" ? [r.body] : []));
    await eventually(async () => (await events()).some((e) => e.event === "approval.granted"), 5_000, "ledger grant");
    expect((await events()).find((e) => e.event === "approval.granted")?.details).toMatchObject({ approval: pending.id, by: "dr-house", role: "approver", decision: "approve" });
  });
});
