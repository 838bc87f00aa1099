import { CompactSign, compactVerify } from "jose";
import { z } from "zod";
import { ControlClaims, ControlLimits, peekControl } from "./control.ts";
import { aRole, mayPerform, type ControlOperation } from "./control-roles.ts";
import { isEctAlgorithm, sha256B64url, type ResolvedKey, type SigningKey } from "./ect/index.ts";
import { TetherError } from "./errors.ts";
import type { KeyRole, KeyStatus } from "./keys.ts";
import { MemberAddRequest, MemberRemoveRequest, mayManageMember, type ChangeActor } from "./membership.ts";
import { PolicySetRequest } from "./network-policy.ts";

/**
 * Entries of a network's governance bucket (`tether_<net>_governance`: key `policy`, and
 * `member.<id>` per member). The bucket may be writable by clients that are not nodes (until networks
 * are NATS accounts with per-identity permissions), so nodes trust an entry only when it verifies on
 * read, whoever wrote it:
 *
 * - `token` is the very control message (compact JWS) an owner or admin signed and a node accepted:
 *   its key role must allow the operation (`ControlRoles`, `MembershipRoles`), its network must be this
 *   one, and its body must be about this entry's key;
 * - `attestation` is a JWS by the accepting node's key over (network, entry key, SHA-256 of `token`,
 *   time): proof that a node ran the checks that depend on the network's state (maximum members, the
 *   member's keys, the last owner) and accepted it. A refused control message never gets one, so
 *   writing a captured genuine token straight into the bucket does not bypass those checks.
 *
 * A key counts when it was valid at signing time: active, or retired after it signed. A revoked node
 * key never counts (what it attested is suspect). A revoked person key counts for the changes a node
 * attested before the revocation: revoking an admin who left does not undo the policy they set, and a
 * thief of the key still needs a node's attestation, which no node gives after the revocation.
 * Of several verifying entries for one key (bucket history), the one with the latest `issuedAt` wins,
 * so a genuine older entry written again (a replay) is not adopted.
 */
export const GovernanceEntry = z.strictObject({
  type: z.literal("tether.governance.v1.entry"),
  token: z.string().min(1).max(ControlLimits.maxTokenChars),
  attestation: z.string().min(1).max(4096),
});
export type GovernanceEntry = z.infer<typeof GovernanceEntry>;

export const ATTESTATION_TYP = "tether-governance+jwt";

export const GovernanceAttestation = z.strictObject({
  type: z.literal("tether.governance.v1.attestation"),
  network: z.string().min(1).max(128),
  /** The bucket key the entry is for (`policy`, `member.<id>`): an entry moved to another key fails. */
  entry: z.string().min(1).max(256),
  /** SHA-256 (base64url) of the control token. */
  digest: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  /** When the node accepted it (epoch ms). */
  at: z.number().int().nonnegative(),
  /** The accepting node. */
  node: z.string().min(1).max(128),
});
export type GovernanceAttestation = z.infer<typeof GovernanceAttestation>;

/** Governance bodies: what a governance entry's token carries. */
export const GovernanceBody = z.discriminatedUnion("type", [MemberAddRequest, MemberRemoveRequest, PolicySetRequest]);
export type GovernanceBody = z.infer<typeof GovernanceBody>;

export const governanceKeys = {
  policy: "policy",
  member: (id: string): string => `member.${id}`,
  memberPrefix: "member.",
} as const;

/** The bucket key a governance body is about. */
export const entryKeyOf = (body: GovernanceBody): string => (body.type === "tether.node.v1.policy-set" ? governanceKeys.policy : governanceKeys.member(body.member));

export const governanceOperationOf = (body: GovernanceBody): ControlOperation =>
  body.type === "tether.node.v1.member-add" ? "member.add" : body.type === "tether.node.v1.member-remove" ? "member.remove" : "policy.set";

/** A registry key with what trusting a past signature needs: its status and when it was retired. */
export interface HistoricKey {
  readonly role: KeyRole;
  readonly owner: string;
  readonly status: KeyStatus;
  readonly retiredAt?: number | undefined;
  readonly revokedAt?: number | undefined;
  readonly key: ResolvedKey;
}

/** Looks keys up whatever their status (revoked and long-retired ones too). */
export interface HistoricKeys {
  lookupAny(kid: string): Promise<HistoricKey | undefined>;
}

/** A governance entry that verified: the body, who signed it, when, and which node accepted it. */
export interface VerifiedGovernance {
  readonly body: GovernanceBody;
  readonly by: ChangeActor;
  readonly issuedAt: number;
  readonly at: number;
  readonly node: string;
}

const untrusted = (reason: string, cause?: unknown): TetherError =>
  new TetherError("ERR_GOVERNANCE_ENTRY_UNTRUSTED", reason, cause === undefined ? {} : { cause });

const validAt = (key: HistoricKey, at: number): boolean => key.status === "active" || (key.status === "retired" && at <= (key.retiredAt ?? 0));

const verifyJws = async (token: string, typ: string, keys: HistoricKeys, what: string): Promise<{ kid: string; key: HistoricKey; payload: unknown }> => {
  const peeked = peekControl(token);
  const header = peeked?.header;
  const alg = header?.["alg"];
  const kid = header?.["kid"];
  if (header === undefined || !isEctAlgorithm(alg) || header["typ"] !== typ || typeof kid !== "string" || Object.hasOwn(header, "crit")) {
    throw untrusted(`the ${what} is not a ${typ} JWS`);
  }
  const key = await keys.lookupAny(kid);
  if (key === undefined) throw untrusted(`the ${what} is signed by ${kid}, which is not in the key registry`);
  if (key.key.alg !== alg) throw untrusted(`the ${what}'s alg does not match key ${kid}`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, key.key.key, { algorithms: [alg] }));
  } catch (cause) {
    throw untrusted(`the ${what}'s signature does not verify with key ${kid}`, cause);
  }
  try {
    return { kid, key, payload: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload)) as unknown };
  } catch (cause) {
    throw untrusted(`the ${what}'s payload is not JSON`, cause);
  }
};

/** Signs the attestation a node writes beside a governance token it accepted. */
export const attestGovernance = async (key: SigningKey, claims: Omit<GovernanceAttestation, "type" | "digest">, token: string): Promise<string> => {
  const payload: GovernanceAttestation = { type: "tether.governance.v1.attestation", ...claims, digest: sha256B64url(token) };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: key.alg, typ: ATTESTATION_TYP, kid: key.kid }).sign(key.privateKey);
};

/**
 * Verifies a stored governance entry (as read from the bucket, untrusted) for `entryKey` of `network`.
 * Throws ERR_GOVERNANCE_ENTRY_UNTRUSTED naming the first failed check.
 */
export const verifyGovernanceEntry = async (value: unknown, options: { network: string; entryKey: string; keys: HistoricKeys }): Promise<VerifiedGovernance> => {
  const entry = GovernanceEntry.safeParse(value);
  if (!entry.success) throw untrusted("not a governance entry");
  const { token, attestation } = entry.data;

  const attested = await verifyJws(attestation, ATTESTATION_TYP, options.keys, "attestation");
  const claims = GovernanceAttestation.safeParse(attested.payload);
  if (!claims.success) throw untrusted("the attestation's claims are invalid");
  if (attested.key.role !== "node") throw untrusted(`the attestation is signed by ${aRole(attested.key.role)} key, not a node's`);
  if (!validAt(attested.key, claims.data.at)) throw untrusted(`the attesting node key ${attested.kid} was not valid when it signed (${attested.key.status})`);
  if (claims.data.network !== options.network || claims.data.entry !== options.entryKey) throw untrusted(`the attestation is for ${claims.data.network}/${claims.data.entry}, not ${options.network}/${options.entryKey}`);
  if (claims.data.digest !== sha256B64url(token)) throw untrusted("the attestation names another control token");

  const signed = await verifyJws(token, "tether-control+jwt", options.keys, "control token");
  const control = ControlClaims.safeParse(signed.payload);
  const body = GovernanceBody.safeParse(control.success ? control.data.body : undefined);
  if (!control.success || !body.success) throw untrusted("the control token carries no governance body");
  const attestedBeforeRevocation = signed.key.status === "revoked" && signed.key.revokedAt !== undefined && claims.data.at <= signed.key.revokedAt;
  if (!validAt(signed.key, control.data.issuedAt) && !attestedBeforeRevocation) throw untrusted(`the signing key ${signed.kid} was not valid when it signed (${signed.key.status})`);
  if (control.data.network !== options.network || entryKeyOf(body.data) !== options.entryKey) throw untrusted(`the control token is about ${control.data.network}/${entryKeyOf(body.data)}, not ${options.network}/${options.entryKey}`);
  const operation = governanceOperationOf(body.data);
  if (!mayPerform(signed.key.role, operation)) throw untrusted(`${aRole(signed.key.role)} key may not ${operation}`);
  if (body.data.type === "tether.node.v1.member-add" && !mayManageMember(signed.key.role, body.data.role)) throw untrusted(`${aRole(signed.key.role)} key may not add ${aRole(body.data.role)}`);
  return {
    body: body.data,
    by: { kid: signed.kid, role: signed.key.role, owner: signed.key.owner },
    issuedAt: control.data.issuedAt,
    at: claims.data.at,
    node: claims.data.node,
  };
};
