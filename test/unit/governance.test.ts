import { importJWK, type CryptoKey } from "jose";
import { describe, expect, it } from "vitest";
import {
  ControlRoles,
  MembershipRoles,
  agentRefusal,
  attestGovernance,
  defaultNetworkPolicy,
  generateSigningKey,
  mayManageMember,
  memberMayHoldKey,
  memberRoleOfKey,
  signControl,
  verifyGovernanceEntry,
  type HistoricKey,
  type KeyRole,
  type KeyStatus,
  type NetworkPolicy,
  type SigningKey,
} from "../../protocols/index.ts";
import { applyPolicyFlags } from "../../cli/index.ts";

const policy = (over: Partial<NetworkPolicy> = {}): NetworkPolicy => ({ ...defaultNetworkPolicy(), ...over });

describe("the membership matrix", () => {
  it("maps key roles onto owner, admin and member, machines onto none", () => {
    expect((["owner", "admin", "operator", "approver", "observer", "agent", "node", "audit"] as const).map(memberRoleOfKey)).toEqual([
      "owner",
      "admin",
      "member",
      "member",
      "member",
      "member",
      undefined,
      undefined,
    ]);
  });

  it("lets owners manage everyone, admins only members, members nobody", () => {
    expect(mayManageMember("owner", "owner") && mayManageMember("owner", "admin") && mayManageMember("owner", "member")).toBe(true);
    expect([mayManageMember("admin", "owner"), mayManageMember("admin", "admin"), mayManageMember("admin", "member")]).toEqual([false, false, true]);
    expect((["operator", "approver", "observer", "agent", "node", "audit"] as const).some((r) => mayManageMember(r, "member"))).toBe(false);
    expect([memberMayHoldKey("member", "operator"), memberMayHoldKey("member", "admin"), memberMayHoldKey("admin", "admin"), memberMayHoldKey("owner", "node")]).toEqual([true, false, true, false]);
  });

  it("agrees with the control matrix: exactly the roles that may set policy may add and remove members", () => {
    for (const role of Object.keys(ControlRoles) as KeyRole[]) {
      const ops = ControlRoles[role] as readonly string[];
      const member = memberRoleOfKey(role);
      expect([role, ops.includes("policy.set")]).toEqual([role, member !== undefined && MembershipRoles[member].setsPolicy]);
      expect([role, ops.includes("member.add"), ops.includes("member.remove")]).toEqual([role, ops.includes("policy.set"), ops.includes("policy.set")]);
    }
  });
});

describe("agentRefusal", () => {
  it("allows by exact name, * and prefix*, and names what it refuses", () => {
    const p = policy({ allowedAgentTypes: ["Triage", "Billing*"], allowedCapabilities: ["count", "billing.*"] });
    expect(agentRefusal(p, "Triage", ["count"])).toBeUndefined();
    expect(agentRefusal(p, "BillingRefunds", ["billing.refund", "count"])).toBeUndefined();
    expect(agentRefusal(p, "Mallory", [])?.code).toBe("ERR_POLICY_AGENT_TYPE_DENIED");
    expect(agentRefusal(p, "Triage", ["count", "payments.send", "shell"])).toMatchObject({ code: "ERR_POLICY_CAPABILITY_DENIED", reason: expect.stringContaining("payments.send, shell") });
    expect(agentRefusal(defaultNetworkPolicy(), "Anything", ["any"])).toBeUndefined();
  });
});

describe("applyPolicyFlags", () => {
  it("changes only the fields given and refuses bad values with ERR_CONFIG_INVALID", () => {
    expect(applyPolicyFlags(policy(), { maxMembers: "7", allowTypes: "A, B*" })).toEqual(policy({ maxMembers: 7, allowedAgentTypes: ["A", "B*"] }));
    for (const bad of [{ maxMembers: "0" }, { maxMembers: "x" }, { minProfile: "paranoid" }, { allowTypes: "" }, { allowCapabilities: "a b" }]) {
      expect(() => applyPolicyFlags(policy(), bad)).toThrow(expect.objectContaining({ code: "ERR_CONFIG_INVALID" }));
    }
  });
});

describe("verifyGovernanceEntry", () => {
  const network = "net";
  const setup = async () => {
    const admin = await generateSigningKey("ES256");
    const node = await generateSigningKey("ES256");
    const keys = new Map<string, { role: KeyRole; status: KeyStatus; retiredAt?: number; revokedAt?: number; signing: SigningKey }>([
      [admin.kid, { role: "admin", status: "active", signing: admin }],
      [node.kid, { role: "node", status: "active", signing: node }],
    ]);
    const lookup = {
      lookupAny: async (kid: string): Promise<HistoricKey | undefined> => {
        const k = keys.get(kid);
        return k === undefined ? undefined : { role: k.role, owner: kid, status: k.status, retiredAt: k.retiredAt, revokedAt: k.revokedAt, key: { key: (await importJWK(k.signing.publicJwk, k.signing.alg)) as CryptoKey, alg: k.signing.alg } };
      },
    };
    const entry = async (signer = admin, attester = node, at = 2_000, entryKey = "policy") => {
      const { token } = await signControl({ type: "tether.node.v1.policy-set", policy: policy({ maxMembers: 9 }) }, { key: signer, network, target: "n1", now: 1_000 });
      return { type: "tether.governance.v1.entry", token, attestation: await attestGovernance(attester, { network, entry: entryKey, at, node: "n1" }, token) };
    };
    const verify = (value: unknown, entryKey = "policy") => verifyGovernanceEntry(value, { network, entryKey, keys: lookup }).then((v) => v.by.role, (e: { code: string; message: string }) => `${e.code}: ${e.message}`);
    return { admin, node, keys, entry, verify };
  };

  it("accepts an admin's token attested by a node, and names why it refuses the rest", async () => {
    const { admin, node, keys, entry, verify } = await setup();
    expect(await verify(await entry())).toBe("admin");
    expect(await verify(await entry(), "member.x")).toMatch(/UNTRUSTED: the attestation is for net\/policy, not net\/member\.x/);
    expect(await verify(await entry(admin, admin))).toMatch(/UNTRUSTED: the attestation is signed by an admin key, not a node's/);
    const genuine = await entry();
    const other = await entry();
    expect(await verify({ ...genuine, token: other.token })).toMatch(/attestation names another control token/);
    expect(await verify({ type: "tether.policy.v1.network" })).toMatch(/not a governance entry/);
    // keys: a node key retired after it attested still counts, a revoked one never does
    keys.set(node.kid, { role: "node", status: "retired", retiredAt: 5_000, signing: node });
    expect(await verify(await entry())).toBe("admin");
    expect(await verify(await entry(admin, node, 6_000))).toMatch(/attesting node key .* was not valid when it signed \(retired\)/);
    keys.set(node.kid, { role: "node", status: "revoked", revokedAt: 5_000, signing: node });
    expect(await verify(await entry())).toMatch(/attesting node key .* \(revoked\)/);
    keys.set(node.kid, { role: "node", status: "active", signing: node });
    // a revoked admin key: what a node attested before the revocation stands, nothing after
    keys.set(admin.kid, { role: "admin", status: "revoked", revokedAt: 3_000, signing: admin });
    expect(await verify(await entry())).toBe("admin");
    expect(await verify(await entry(admin, node, 4_000))).toMatch(/signing key .* was not valid when it signed \(revoked\)/);
  });

  it("re-checks the role matrix: an operator's signed policy, attested by a node, is not trusted", async () => {
    const { keys, node, entry, verify } = await setup();
    const operator = await generateSigningKey("ES256");
    keys.set(operator.kid, { role: "operator", status: "active", signing: operator });
    expect(await verify(await entry(operator, node))).toMatch(/an operator key may not policy\.set/);
  });
});
