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
import { runTether } from "../support/processes.ts";

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
  { id: "compensate", action: "dispense-compensate", gate: { ...gate, onReject: { path: "compensate" } } },
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

  it("refuses decisions by roles the gate does not name, and forged, unsigned and replayed decisions from a plain NATS client, recording each", async () => {
    await using server = await startServer();
    const { approvals, node, log, pharmacist, owner, approver } = await setup(server.url);
    await using _node = node;
    const observer = await personKey(node, owner, "observer", "otto");
    const operator = await personKey(node, owner, "operator", "oscar");
    const admin = await personKey(node, owner, "admin", "ada");
    const first = codeOf(pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 5000, usualMaxMg: 1000 }, { timeoutMs: 60_000 }));
    const a = await pendingOne(approvals, "dispense");

    // under-privileged keys: the role matrix refuses observers and operators; the gate names only approvers at level 0
    expect(await codeOf(approvals.decide(observer, a.id, "approve"))).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await codeOf(approvals.decide(operator, a.id, "approve"))).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await codeOf(approvals.decide(admin, a.id, "approve"))).toBe("ERR_APPROVAL_DECIDER_FORBIDDEN");

    const nc = await connect({ servers: server.url });
    try {
      const subject = node.subjects.actor("approvals");
      let n = 0;
      const raw = async (body: unknown): Promise<string> => {
        const reply = await nc.request(subject, encodeSend("ask", `raw-${++n}`, "mallory", false, body), { timeout: 5_000 });
        const envelope = decodeEnvelope(reply.data);
        return envelope.kind === "error" ? ErrorReply.parse(envelope.body).code : "accepted";
      };
      const decision = { type: "tether.approval.v1.decision", approvalId: a.id, decision: "approve" } as const;
      const stranger = await generateSigningKey("ES256");
      const impostor = { ...stranger, kid: approver.kid };
      const sign = (key: typeof stranger, target = "approvals", now = Date.now()) => signControl(decision, { key, network: node.network, target, now });
      expect(await raw({ type: "tether.approvals.v1.decide", envelope: decision })).toBe("ERR_MESSAGE_INVALID"); // a bare, unsigned decision
      expect(await raw({ type: "tether.approvals.v1.decide", envelope: await sign(stranger) })).toBe("ERR_CONTROL_KEY_UNKNOWN");
      expect(await raw({ type: "tether.approvals.v1.decide", envelope: await sign(impostor) })).toBe("ERR_CONTROL_SIGNATURE_INVALID");
      expect(await raw({ type: "tether.approvals.v1.decide", envelope: await approver.sign(decision, "ledger") })).toBe("ERR_CONTROL_MISDIRECTED");
      // an attacker cannot use an approval (only the action that opened it holds the secret to)
      expect(await raw({ type: "tether.approvals.v1.consume", id: a.id })).toBe("ERR_MESSAGE_INVALID");
      expect(await raw({ type: "tether.approvals.v1.consume", id: a.id, claim: "guess" })).toBe("ERR_APPROVAL_CLAIM_INVALID");
      expect(log).toEqual([]);
      expect((await approvals.get(a.id)).status).toBe("pending");

      // a genuine decision, captured and replayed for the next approval, is refused
      const genuine = await approver.sign({ ...decision, decision: "reject", reason: "dose" }, "approvals");
      expect(await raw({ type: "tether.approvals.v1.decide", envelope: genuine })).toBe("accepted");
      expect(await first).toBe("ERR_APPROVAL_REJECTED");
      const second = codeOf(pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 6000, usualMaxMg: 1000 }, { timeoutMs: 60_000 }));
      const b = await pendingOne(approvals, "dispense");
      expect(await raw({ type: "tether.approvals.v1.decide", envelope: genuine })).toBe("ERR_CONTROL_REPLAYED");
      const body = JSON.parse(Buffer.from(genuine.token.split(".")[1] ?? "", "base64url").toString()) as { body: { approvalId: string } };
      expect(body.body.approvalId).toBe(a.id); // and it names the old approval anyway: the signature binds the id
      expect((await approvals.get(b.id)).status).toBe("pending");
      await approvals.decide(approver, b.id, "reject", "still too high");
      expect(await second).toBe("ERR_APPROVAL_REJECTED");
    } finally {
      await nc.close();
    }
    expect(log).toEqual([]);

    const violations = async () =>
      (await LedgerStream.readAll(node.nats, node.subjects))
        .map((r) => parseRecord(r))
        .flatMap((r) => (r.kind === "event" && r.body.event === "violation" && r.body.details["source"] === "approval" ? [r.body.details] : []));
    const expected = ["ERR_CONTROL_FORBIDDEN", "ERR_CONTROL_FORBIDDEN", "ERR_APPROVAL_DECIDER_FORBIDDEN", "ERR_CONTROL_KEY_UNKNOWN", "ERR_CONTROL_SIGNATURE_INVALID", "ERR_CONTROL_MISDIRECTED", "ERR_CONTROL_REPLAYED"];
    await eventually(async () => (await violations()).length >= expected.length, 5_000, "violation records");
    expect((await violations()).map((d) => d["code"])).toEqual(expected);
    expect((await violations())[2]).toMatchObject({ owner: "ada", role: "admin", approval: a.id });
  });

  it("escalates on timeout to the next group, then rejects by default; a rejection aborts, reroutes or compensates", async () => {
    await using server = await startServer();
    const { clock, approvals, node, log, pharmacist, owner, approver } = await setup(server.url);
    await using _node = node;
    const admin = await personKey(node, owner, "admin", "ada");

    // level 0 (approvers) times out after 60 s: the admins are asked; they may approve, approvers no longer
    const escalated = pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 5000, usualMaxMg: 1000 }, { timeoutMs: 60_000 });
    const a = await pendingOne(approvals, "dispense");
    clock.advance(60_000);
    await eventually(async () => (await approvals.get(a.id)).level === 1, 5_000, "escalation");
    expect(await codeOf(approvals.decide(approver, a.id, "approve"))).toBe("ERR_APPROVAL_DECIDER_FORBIDDEN");
    await approvals.decide(admin, a.id, "approve", "on call");
    expect(await escalated).toEqual({ dispensed: 5000 });

    // nobody answers at either level: the default outcome (reject) aborts the action
    const ignored = codeOf(pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 7000, usualMaxMg: 1000 }, { timeoutMs: 60_000 }));
    const b = await pendingOne(approvals, "dispense");
    clock.advance(60_000);
    await eventually(async () => (await approvals.get(b.id)).level === 1, 5_000, "escalation");
    clock.advance(30_000);
    expect(await ignored).toBe("ERR_APPROVAL_REJECTED");
    expect((await approvals.get(b.id)).decisions.map((d) => d.decision)).toEqual(["escalate", "timeout-reject"]);

    // reroute: the rejected request goes to the senior pharmacist, whose reply is the action's result
    const rerouted = pharmacist.ask({ type: "dispense", action: "dispense-reroute", doseMg: 9000, usualMaxMg: 1000 }, { timeoutMs: 60_000 });
    const c = await pendingOne(approvals, "dispense-reroute");
    await approvals.decide(approver, c.id, "reject", "refer");
    expect(await rerouted).toEqual({ referredToPharmacist: true });
    expect(log).toEqual(["dispense:5000", "rerouted:dispense-reroute"]);

    // compensate: the workflow's completed compensable actions are rolled back, then the action aborts
    await node.spawn("preparer", Pharmacist, { args: [log] });
    await node.ref("preparer").ask({ type: "prepare", to: "pharmacist", doseMg: 800, usualMaxMg: 1000 });
    const d = await pendingOne(approvals, "dispense-compensate");
    await approvals.decide(approver, d.id, "reject", "recall the batch");
    await eventually(() => log.includes("discarded:800"), 15_000, "the preparation compensated");
    expect(log.slice(-2)).toEqual(["prepared:800", "discarded:800"]);
  });

  it("a plain NATS client can neither use up an approved approval nor drive the approvals actor's timer: the action that asked runs", async () => {
    await using server = await startServer();
    const { clock, approvals, node, log, pharmacist, approver } = await setup(server.url);
    await using _node = node;
    const held = pharmacist.ask({ type: "dispense", action: "dispense-held", doseMg: 2, usualMaxMg: 1 }, { timeoutMs: 60_000 });
    const a = await pendingOne(approvals, "dispense-held");
    const timers = clock.pending;
    await approvals.decide(approver, a.id, "approve");
    await eventually(() => clock.pending > timers, 5_000, "the hold period to start");
    const nc = await connect({ servers: server.url });
    try {
      let n = 0;
      const raw = async (body: unknown): Promise<string> => {
        const reply = await nc.request(node.subjects.actor("approvals"), encodeSend("ask", `mallory-${++n}`, "mallory", false, body), { timeout: 5_000 });
        const envelope = decodeEnvelope(reply.data);
        return envelope.kind === "error" ? ErrorReply.parse(envelope.body).code : "accepted";
      };
      const approved = await approvals.get(a.id);
      expect(approved.status).toBe("approved");
      // before: a bare consume marked it executed, and the held action then failed with ERR_APPROVAL_ALREADY_DECIDED
      expect(await raw({ type: "tether.approvals.v1.consume", id: a.id })).toBe("ERR_MESSAGE_INVALID");
      expect(await raw({ type: "tether.approvals.v1.consume", id: a.id, claim: "guess" })).toBe("ERR_APPROVAL_CLAIM_INVALID");
      expect(await raw({ type: "tether.approvals.v1.consume", id: a.id, claim: approved.claimHash })).toBe("ERR_APPROVAL_CLAIM_INVALID");
      // another client of the approvals actor (another node's, say) did not open it either
      const other = new ApprovalClient();
      other.attach(node);
      expect(await codeOf(other.consume(a.id))).toBe("ERR_APPROVAL_CLAIM_INVALID");
      expect(await raw({ type: "tether.approvals.v1.tick" })).toBe("ERR_MESSAGE_INVALID");
      expect(await raw({ type: "tether.approvals.v1.tick", key: "00000000-0000-4000-8000-000000000000" })).toBe("ERR_MESSAGE_INVALID");
      expect((await approvals.get(a.id)).status).toBe("approved");
    } finally {
      await nc.close();
    }
    clock.advance(10_000);
    expect(await held).toEqual({ dispensed: 2 });
    expect(log).toEqual(["dispense-held:2"]);
    expect((await approvals.get(a.id)).status).toBe("executed");
  });

  it("lets an approval be revoked before the action runs, notifies without waiting, and keeps pending approvals across a restart", async () => {
    await using server = await startServer();
    const { clock, approvals, node, log, pharmacist, approver } = await setup(server.url);
    {
      await using _node = node;
      const notified = await pharmacist.ask({ type: "dispense", action: "dispense-notify", doseMg: 1, usualMaxMg: 1 });
      expect(notified).toEqual({ dispensed: 1 });
      expect((await approvals.list("notified")).map((r) => r.action)).toEqual(["dispense-notify"]);

      const held = codeOf(pharmacist.ask({ type: "dispense", action: "dispense-held", doseMg: 2, usualMaxMg: 1 }, { timeoutMs: 60_000 }));
      const a = await pendingOne(approvals, "dispense-held");
      const timers = clock.pending;
      await approvals.decide(approver, a.id, "approve");
      await eventually(() => clock.pending > timers, 5_000, "the hold period to start");
      expect((await approvals.decide(approver, a.id, "revoke", "wrong patient")).status).toBe("revoked");
      clock.advance(10_000);
      expect(await held).toBe("ERR_APPROVAL_REVOKED");
      expect(log).toEqual(["dispense-notify:1"]);

      // a pending approval, then the node goes away
      void pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 5000, usualMaxMg: 1000 }, { timeoutMs: 60_000 }).catch(() => undefined);
      await pendingOne(approvals, "dispense");
    }
    const again = new ApprovalClient();
    await using restarted = await startNode(server.url);
    again.attach(restarted);
    await again.start();
    const kept = await again.list("pending");
    expect(kept.map((r) => [r.action, r.explanation.inputs["doseMg"]])).toEqual([["dispense", 5000]]);
    expect((await again.list("revoked")).length).toBe(1);
    expect(hasCode(await again.get("00000000-0000-4000-8000-000000000000").catch((e: unknown) => e), "ERR_APPROVAL_NOT_FOUND")).toBe(true);
  });
});

describe("tether approvals / approve / reject", () => {
  it("lists a pending approval, refuses an unsigned reject, and approves with a signer key file", async () => {
    await using server = await startServer();
    const { approvals, node, pharmacist, owner } = await setup(server.url);
    await using _node = node;
    const key = await generateSigningKey("ES256");
    const file = join(keyDir, "cli-approver.jwk.json");
    saveSigningKey(file, await exportPrivateJwk(key));
    await node.controlNode(node.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role: "approver", owner: "dr-cli", jwk: { ...key.publicJwk } }, 5_000, { signer: owner });
    const reply = pharmacist.ask({ type: "dispense", action: "dispense", doseMg: 5000, usualMaxMg: 1000 }, { timeoutMs: 120_000 });
    const pending = await pendingOne(approvals, "dispense");
    const ls = await runTether(["approvals", "ls", "--status", "pending", "--json", "--nats", server.url]);
    expect(ls.code).toBe(0);
    expect(ls.stdout.trim().split("\n").map((l) => (JSON.parse(l) as ApprovalRecord).id)).toEqual([pending.id]);
    const noReason = await runTether(["reject", pending.id, "--signer", file, "--nats", server.url]);
    expect(noReason.code).not.toBe(0);
    const approved = await runTether(["approve", pending.id, "--signer", file, "--reason", "ok", "--nats", server.url]);
    expect(approved.stdout).toContain(`approval ${pending.id}: approved`);
    expect(await reply).toEqual({ dispensed: 5000 });
    const shown = await runTether(["approvals", "show", pending.id, "--nats", server.url]);
    expect(shown.stdout).toContain("decision  approve by approver:dr-cli");
  }, 120_000);
});
