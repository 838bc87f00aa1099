import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import {
  ErrorReply,
  attestGovernance,
  decodeEnvelope,
  encodeBody,
  exportPrivateJwk,
  generateSigningKey,
  hasCode,
  parseRecord,
  signControl,
  type ControlBody,
  type ErrorCode,
  type KeyRole,
  type NetworkPolicy,
  type SigningKey,
} from "../../protocols/index.ts";
import { ControlSigner, LedgerStream, saveSigningKey, type Node } from "../../runtime/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

/** Agent types the policies below allow or refuse by class name. */
class Echo extends Counter {}
class Mallory extends Counter {}

const keyDir = mkdtempSync(join(tmpdir(), "tether-members-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

/** A person's key, saved (0600) and published through a signed key-publish. */
const personKey = async (node: Node, publisher: ControlSigner | "self", role: KeyRole, name: string): Promise<{ key: SigningKey; signer: ControlSigner }> => {
  const key = await generateSigningKey("ES256");
  const file = join(keyDir, `${name}-${role}-${key.kid.slice(0, 6)}.jwk.json`);
  saveSigningKey(file, await exportPrivateJwk(key));
  const signer = await ControlSigner.fromKeyFile(file, node.network);
  await node.controlNode(node.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } }, 5_000, {
    signer: publisher === "self" ? signer : publisher,
  });
  return { key, signer };
};

const policyOf = (over: Partial<NetworkPolicy>): NetworkPolicy => ({ type: "tether.policy.v1.network", maxMembers: 100, allowedAgentTypes: ["*"], allowedCapabilities: ["*"], minProfile: "relaxed", ...over });

const codeOf = (error: unknown): string => (error as { code?: string }).code ?? String(error);
const outcome = (p: Promise<unknown>): Promise<string> => p.then(() => "accepted", codeOf);

const ledgerEvents = async (node: Node) =>
  (await LedgerStream.readAll(node.nats, node.subjects)).map((r) => parseRecord(r)).flatMap((r) => (r.kind === "event" ? [r.body] : []));

/** Sends raw bytes to a node's control subject, as any NATS client can. */
const rawControl = async (nc: NatsConnection, subject: string, data: Uint8Array): Promise<string> => {
  const envelope = decodeEnvelope((await nc.request(subject, data, { timeout: 5_000 })).data);
  return envelope.kind === "error" ? ErrorReply.parse(envelope.body).code : "accepted";
};

/** A network with a ledger, an owner key, and the owner as its first owner member. */
const network = async (url: string) => {
  const node = await startNode(url);
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 1000 })] });
  const { signer: owner } = await personKey(node, "self", "owner", "olivia");
  await node.controlNode(node.id, { type: "tether.node.v1.member-add", member: "olivia", role: "owner", keys: [owner.kid] }, 5_000, { signer: owner });
  return { node, owner };
};

describe("network membership and policy", () => {
  it("lets the owner add members and an admin change the policy; refuses a member's policy change and a member beyond the maximum; records each with old and new values", async () => {
    await using server = await startServer();
    const { node, owner } = await network(server.url);
    await using _node = node;
    const { signer: admin } = await personKey(node, owner, "admin", "ada");
    const { signer: oscar } = await personKey(node, owner, "operator", "oscar");
    const { signer: otto } = await personKey(node, owner, "observer", "otto");
    const add = (signer: ControlSigner, member: string, role: "owner" | "admin" | "member", keys: string[]) =>
      outcome(node.controlNode(node.id, { type: "tether.node.v1.member-add", member, role, keys }, 5_000, { signer }));
    const setPolicy = (signer: ControlSigner, policy: NetworkPolicy) => outcome(node.controlNode(node.id, { type: "tether.node.v1.policy-set", policy }, 5_000, { signer }));

    expect(await add(owner, "ada", "admin", [admin.kid])).toBe("accepted");
    expect(await add(admin, "oscar", "member", [oscar.kid])).toBe("accepted");
    // the matrix: an admin may not make admins or owners; a member key may not add anyone or set policy
    expect(await add(admin, "otto", "admin", [otto.kid])).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await add(oscar, "otto", "member", [otto.kid])).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await setPolicy(oscar, policyOf({ maxMembers: 50 }))).toBe("ERR_CONTROL_FORBIDDEN");
    // keys must be the member's own, of a key role its membership role may hold
    expect(await add(owner, "otto", "member", [oscar.kid])).toBe("ERR_MEMBER_KEY_INVALID");
    expect(await add(owner, "ada2", "member", [admin.kid])).toBe("ERR_MEMBER_KEY_INVALID");
    // below the current membership the policy is refused; at it, the next member is
    expect(await setPolicy(admin, policyOf({ maxMembers: 2 }))).toBe("ERR_POLICY_INVALID");
    expect(await setPolicy(admin, policyOf({ maxMembers: 3 }))).toBe("accepted");
    expect(await add(owner, "otto", "member", [otto.kid])).toBe("ERR_MEMBER_LIMIT_REACHED");
    expect(node.governance.members().map((m) => [m.id, m.role])).toEqual([["olivia", "owner"], ["ada", "admin"], ["oscar", "member"]]);
    // a role change, and removals: an admin may not remove the owner, the last owner may not go
    expect(await outcome(node.controlNode(node.id, { type: "tether.node.v1.member-remove", member: "olivia" }, 5_000, { signer: admin }))).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await outcome(node.controlNode(node.id, { type: "tether.node.v1.member-remove", member: "olivia" }, 5_000, { signer: owner }))).toBe("ERR_MEMBER_LAST_OWNER");
    expect(await outcome(node.controlNode(node.id, { type: "tether.node.v1.member-remove", member: "oscar", reason: "left" }, 5_000, { signer: admin }))).toBe("accepted");
    expect(await add(owner, "otto", "member", [otto.kid])).toBe("accepted");
    expect(node.governance.policy().maxMembers).toBe(3);
    // once a network has members, a person's key acts only while a member holds it: oscar's key is still active, but he left
    const pause = { type: "tether.node.v1.pause", actorId: "nobody", until: 0 } as const;
    expect(await outcome(node.controlNode(node.id, pause, 5_000, { signer: otto }))).toBe("ERR_CONTROL_FORBIDDEN"); // an observer: the role matrix
    expect(await outcome(node.controlNode(node.id, pause, 5_000, { signer: oscar }))).toBe("ERR_CONTROL_FORBIDDEN");

    // every change is a ledger record: who, when, old and new; every refusal a violation
    await eventually(async () => (await ledgerEvents(node)).filter((e) => e.event.startsWith("member.") || e.event === "policy.changed").length === 6, 5_000, "change records");
    const events = await ledgerEvents(node);
    const changes = events.filter((e) => e.event.startsWith("member.") || e.event === "policy.changed");
    expect(changes.map((e) => [e.event, e.subject])).toEqual([
      ["member.added", "olivia"],
      ["member.added", "ada"],
      ["member.added", "oscar"],
      ["policy.changed", node.network],
      ["member.removed", "oscar"],
      ["member.added", "otto"],
    ]);
    const policyChange = changes[3]?.details;
    expect(policyChange).toMatchObject({ by: { kid: admin.kid, role: "admin", owner: "ada" }, old: { maxMembers: 100, default: true }, new: { maxMembers: 3 } });
    expect(typeof policyChange?.["at"]).toBe("number");
    expect(changes[4]?.details).toMatchObject({ by: { owner: "ada" }, old: { id: "oscar", role: "member", keys: [oscar.kid] }, new: null, reason: "left" });
    const violations = events.filter((e) => e.event === "violation").map((e) => [e.details["code"], e.details["operation"], e.details["owner"]]);
    expect(violations).toEqual(
      expect.arrayContaining([
        ["ERR_CONTROL_FORBIDDEN", "member.add", "ada"],
        ["ERR_CONTROL_FORBIDDEN", "member.add", "oscar"],
        ["ERR_CONTROL_FORBIDDEN", "policy.set", "oscar"],
        ["ERR_MEMBER_KEY_INVALID", "member.add", "olivia"],
        ["ERR_POLICY_INVALID", "policy.set", "ada"],
        ["ERR_MEMBER_LIMIT_REACHED", "member.add", "olivia"],
        ["ERR_CONTROL_FORBIDDEN", "member.remove", "ada"],
        ["ERR_MEMBER_LAST_OWNER", "member.remove", "olivia"],
        ["ERR_CONTROL_FORBIDDEN", "pause", "oscar"],
      ]),
    );
    // key publish and revoke are audited the same way
    const published = events.filter((e) => e.event === "key.published");
    expect(published.at(-1)?.details).toMatchObject({ by: { kid: owner.kid, role: "owner", owner: "olivia" }, old: null, new: { kid: otto.kid, role: "observer", status: "active" } });
    // a role change is its own record
    const { signer: ada2 } = await personKey(node, owner, "owner", "ada");
    expect(await add(owner, "ada", "owner", [ada2.kid])).toBe("accepted");
    await eventually(async () => (await ledgerEvents(node)).some((e) => e.event === "member.role-changed"), 5_000, "role change record");
    expect((await ledgerEvents(node)).find((e) => e.event === "member.role-changed")?.details).toMatchObject({ old: { role: "admin", keys: [admin.kid] }, new: { role: "owner", keys: [ada2.kid] } });
    // an owner member holds owner keys only: ada's admin key no longer acts, her owner key does
    expect(await setPolicy(admin, policyOf({ maxMembers: 4 }))).toBe("ERR_CONTROL_FORBIDDEN");
    expect(await setPolicy(ada2, policyOf({ maxMembers: 4 }))).toBe("accepted");
  });

  it("does not adopt what a plain NATS client writes into the governance bucket or publishes unsigned, also on a node that starts later", async () => {
    await using server = await startServer();
    const { node, owner } = await network(server.url);
    await using _node = node;
    const { signer: admin } = await personKey(node, owner, "admin", "ada");
    const { signer: oscar, key: oscarKey } = await personKey(node, owner, "operator", "oscar");
    await node.controlNode(node.id, { type: "tether.node.v1.member-add", member: "ada", role: "admin", keys: [admin.kid] }, 5_000, { signer: owner });
    const strict = policyOf({ maxMembers: 5, allowedAgentTypes: ["Counter"] });
    await node.controlNode(node.id, { type: "tether.node.v1.policy-set", policy: strict }, 5_000, { signer: admin });

    const nc = await connect({ servers: server.url });
    try {
      const kv = await new Kvm(nc).open(node.subjects.governanceBucket());
      const open: NetworkPolicy = policyOf({ maxMembers: 10_000 });
      const body: ControlBody = { type: "tether.node.v1.policy-set", policy: open };
      const put = async (value: unknown, key = "policy") => kv.put(key, new TextEncoder().encode(JSON.stringify(value)));
      const stranger = await generateSigningKey("ES256");
      // 1. a bare policy, 2. a member key's signed token with a made-up attestation, 3. an admin-signed token the node never accepted (no attestation
      // by a node), 4. a genuine entry moved to another key, 5. an attestation by a key that is not a node's, 6. a delete
      const memberToken = (await oscar.sign(body, node.id)).token;
      const adminToken = (await admin.sign(body, node.id)).token;
      const genuine = JSON.parse(new TextDecoder().decode((await kv.get("policy"))?.value)) as { token: string; attestation: string };
      const attacks: [string, () => Promise<unknown>][] = [
        ["bare policy", () => put(open)],
        ["member-signed token", async () => put({ type: "tether.governance.v1.entry", token: memberToken, attestation: await attestGovernance(oscarKey, { network: node.network, entry: "policy", at: Date.now(), node: node.id }, memberToken) })],
        ["admin token, stranger's attestation", async () => put({ type: "tether.governance.v1.entry", token: adminToken, attestation: await attestGovernance(stranger, { network: node.network, entry: "policy", at: Date.now(), node: node.id }, adminToken) })],
        ["genuine entry under a member key", () => put(genuine, "member.mallory")],
        ["unsigned policy-set on the control subject", async () => expect(await rawControl(nc, node.subjects.node(node.id), encodeBody(body))).toBe("ERR_CONTROL_UNSIGNED")],
        ["stranger-signed policy-set", async () => expect(await rawControl(nc, node.subjects.node(node.id), encodeBody(await signControl(body, { key: stranger, network: node.network, target: node.id, now: Date.now() })))).toBe("ERR_CONTROL_KEY_UNKNOWN")],
        ["delete", () => kv.delete("policy")],
      ];
      for (const [, attack] of attacks) await attack();
      // the running node keeps the genuine policy
      await eventually(async () => (await ledgerEvents(node)).filter((e) => e.event === "violation" && e.details["source"] === "governance").length >= 5, 5_000, "governance violations");
      expect(node.governance.policy()).toEqual(strict);
      expect(node.governance.members().map((m) => m.id)).toEqual(["olivia", "ada"]);
      await expect(node.spawn("e1", Echo)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_POLICY_AGENT_TYPE_DENIED"));
      // a genuine older entry written again (a replay) is not adopted over the newer one
      const newer = policyOf({ maxMembers: 7, allowedAgentTypes: ["Counter"] });
      await node.controlNode(node.id, { type: "tether.node.v1.policy-set", policy: newer }, 5_000, { signer: admin });
      const governanceViolations = async () => (await ledgerEvents(node)).filter((e) => e.event === "violation" && e.details["source"] === "governance").length;
      const before = await governanceViolations();
      await put(genuine);
      await put({ marker: true }); // the watch handles entries in order: once this one is reported, the replay was considered
      await eventually(async () => (await governanceViolations()) === before + 1, 5_000, "the marker's violation");
      expect(node.governance.policy()).toEqual(newer);
      // a node starting now reads the whole history and finds the newest entry that verifies
      await using late = await startNode(server.url);
      expect(late.governance.policy()).toEqual(newer);
      expect(late.governance.members().map((m) => m.id)).toEqual(["olivia", "ada"]);
      await expect(late.spawn("e2", Echo)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_POLICY_AGENT_TYPE_DENIED"));
      // revoking the admin who set it does not undo the policy (a node attested it before the
      // revocation), and the revoked key can change nothing more
      await node.controlNode(node.id, { type: "tether.node.v1.key-revoke", kid: admin.kid, reason: "left" }, 5_000, { signer: owner });
      expect(await outcome(node.controlNode(node.id, { type: "tether.node.v1.policy-set", policy: open }, 5_000, { signer: admin }))).toBe("ERR_CONTROL_KEY_REVOKED");
      await using later = await startNode(server.url);
      expect(later.governance.policy()).toEqual(newer);
      const codes = (await ledgerEvents(node)).filter((e) => e.event === "violation" && e.details["source"] === "governance").map((e) => e.details["code"]);
      expect(new Set(codes)).toEqual(new Set<ErrorCode | unknown>(["ERR_GOVERNANCE_ENTRY_UNTRUSTED"]));
    } finally {
      await nc.close();
    }
  });

  it("enforces the policy when agents join: a node below the minimum profile does not start, a disallowed type or capability is refused, each recorded", async () => {
    await using server = await startServer();
    const { node, owner } = await network(server.url);
    await using _node = node;
    await expect(node.spawn("c0", Counter)).resolves.toBeDefined(); // the default policy allows any agent
    await node.controlNode(node.id, { type: "tether.node.v1.policy-set", policy: policyOf({ allowedAgentTypes: ["Counter", "Echo"], allowedCapabilities: ["count", "billing.*"], minProfile: "standard" }) }, 5_000, { signer: owner });
    // the relaxed node (already running) takes no new agents; a relaxed node does not start at all
    expect(await outcome(node.spawn("c1", Counter))).toBe("ERR_POLICY_PROFILE_TOO_LOW");
    expect(await outcome(startNode(server.url))).toBe("ERR_POLICY_PROFILE_TOO_LOW");
    // a standard node starts and admits what the policy allows, nothing else
    await using standard = await startNode(server.url, { assurance: { profile: "standard", keyDir } });
    await expect(standard.spawn("c2", Counter)).resolves.toBeDefined();
    await expect(standard.spawn("c3", Counter, { capabilities: ["count", "billing.refund"] })).resolves.toBeDefined();
    expect(await outcome(standard.spawn("c4", Counter, { capabilities: ["count", "payments.send"] }))).toBe("ERR_POLICY_CAPABILITY_DENIED");
    expect(await outcome(standard.spawn("m1", Mallory))).toBe("ERR_POLICY_AGENT_TYPE_DENIED");
    expect(standard.localActors().sort()).toEqual(["c2", "c3"]);
    await eventually(async () => (await ledgerEvents(node)).filter((e) => e.event === "violation" && e.details["source"] === "policy").length === 4, 5_000, "policy violations");
    const refusals = (await ledgerEvents(node)).filter((e) => e.event === "violation" && e.details["source"] === "policy");
    expect(refusals.map((e) => [e.subject, e.details["code"]])).toEqual(
      expect.arrayContaining([
        ["c1", "ERR_POLICY_PROFILE_TOO_LOW"],
        [expect.any(String), "ERR_POLICY_PROFILE_TOO_LOW"],
        ["c4", "ERR_POLICY_CAPABILITY_DENIED"],
        ["m1", "ERR_POLICY_AGENT_TYPE_DENIED"],
      ]),
    );
  });
});
