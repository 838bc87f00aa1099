import { CompactSign, base64url, compactVerify } from "jose";
import { z } from "zod";
import { canonicalJson } from "./audit/index.ts";
import { aRole, mayManageKey, mayPerform, type ControlOperation } from "./control-roles.ts";
import { encodeBody } from "./envelope.ts";
import { isEctAlgorithm, sha256B64url, type EctAlgorithm, type ReplayCache, type ResolvedKey, type SigningKey } from "./ect/index.ts";
import { TetherError } from "./errors.ts";
import type { ErrorCode } from "./error-codes.ts";
import type { KeyRole } from "./keys.ts";
import { MemberAddRequest, MemberRemoveRequest, mayManageMember } from "./membership.ts";
import { PolicySetRequest } from "./network-policy.ts";
import { NodeControl } from "./registry.ts";
import { OverrideLiftBody, OverrideSignalBody, OverrideTaskResultBody } from "./override.ts";
import { CompensationRequest } from "./rollback.ts";
import { ApprovalDecisionBody } from "./hitl.ts";
import { ResolveBody } from "./consensus.ts";

/**
 * Signed control messages. Every control message (node control: activate, stop, pause, fence, key
 * publish and revoke; compensation requests) travels as a compact JWS made with a key of the
 * network's key registry, like ECTs and ledger checkpoints:
 *
 *   header  { alg: "ES256" | "EdDSA", typ: "tether-control+jwt", kid }
 *   payload ControlClaims { network, target, nonce, issuedAt, expiresAt, body }
 *
 * A compact JWS rather than a detached signature over canonical JSON: jose already verifies it (one
 * audited code path for ECTs, checkpoints and control), the signed bytes are exactly the bytes that
 * are parsed (no canonicalization step to get wrong), and the `kid` travels in the protected header.
 */
export const CONTROL_TYP = "tether-control+jwt";

export const ControlLimits = {
  /** A signed control message is valid at most this long (expiresAt - issuedAt): 5 minutes. */
  maxLifetimeMs: 300_000,
  /** What signers use when not told otherwise: 60 s, long enough for a loaded node to answer. */
  defaultLifetimeMs: 60_000,
  /** Tolerated clock difference between signer and verifier: 30 s (as for ECTs). */
  clockSkewMs: 30_000,
  /** Longest token accepted (a key-publish with its JWK is about 1 KB). */
  maxTokenChars: 16_384,
} as const;

const Sha256 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

/**
 * The body of a signed compensation request: it names the request by its digest, so the
 * (possibly large) request itself keeps travelling as the message body and the token stays small.
 */
export const CompensationGrant = z.strictObject({
  type: z.literal("tether.rollback.v1.compensate-grant"),
  actorId: z.string().min(1).max(128),
  jti: z.string().min(1).max(256),
  attempt: z.number().int().min(1).max(100),
  /** `compensationDigest(request)`. */
  digest: Sha256,
});
export type CompensationGrant = z.infer<typeof CompensationGrant>;

export const ControlBody = z.discriminatedUnion("type", [...NodeControl.options, CompensationGrant, MemberAddRequest, MemberRemoveRequest, PolicySetRequest, ApprovalDecisionBody, ResolveBody, OverrideSignalBody, OverrideLiftBody, OverrideTaskResultBody]);
export type ControlBody = z.infer<typeof ControlBody>;

/** What the JWS payload holds. `target` is the node id (node control) or the actor id (compensation). */
export const ControlClaims = z.strictObject({
  type: z.literal("tether.control.v1.claims"),
  network: z.string().min(1).max(128),
  target: z.string().min(1).max(128),
  /** Random, at least 128 bits; a node accepts each (kid, nonce) once within the expiry window. */
  nonce: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/),
  /** Epoch milliseconds. */
  issuedAt: z.number().int().nonnegative(),
  expiresAt: z.number().int().nonnegative(),
  body: ControlBody,
});
export type ControlClaims = z.infer<typeof ControlClaims>;

/** What a node's control subject carries. */
export const ControlEnvelope = z.strictObject({
  type: z.literal("tether.control.v1.signed"),
  token: z.string().min(1).max(ControlLimits.maxTokenChars),
});
export type ControlEnvelope = z.infer<typeof ControlEnvelope>;

/** The operation a control body asks for (what the role matrix is checked against). */
export const operationOf = (body: ControlBody): ControlOperation => {
  switch (body.type) {
    case "tether.node.v1.activate":
      return "activate";
    case "tether.node.v1.stop":
      return "stop";
    case "tether.node.v1.pause":
      return "pause";
    case "tether.node.v1.fence":
      return "fence";
    case "tether.node.v1.key-publish":
      return "key.publish";
    case "tether.node.v1.key-revoke":
      return "key.revoke";
    case "tether.rollback.v1.compensate-grant":
      return "compensate";
    case "tether.override.v1.signal":
      return `override.${body.action}`;
    case "tether.override.v1.lift":
      return "override.lift";
    case "tether.override.v1.task-result":
      // completing a taken-over task is part of the takeover: whoever may take over may answer
      return "override.takeover";
    case "tether.node.v1.member-add":
      return "member.add";
    case "tether.node.v1.member-remove":
      return "member.remove";
    case "tether.node.v1.policy-set":
      return "policy.set";
    case "tether.approval.v1.decision":
    case "tether.consensus.v1.resolve-body":
      // reporting a consensus question's truth is a human judgement like an approval
      return "approve";
  }
};

/** SHA-256 of a compensation request's RFC 8785 canonical JSON (msgpack when JSON cannot express it). */
export const compensationDigest = (request: CompensationRequest): string => {
  try {
    return sha256B64url(canonicalJson(request));
  } catch {
    return sha256B64url(encodeBody(request));
  }
};

export interface SignControlOptions {
  readonly key: SigningKey;
  readonly network: string;
  readonly target: string;
  /** Epoch ms. */
  readonly now: number;
  /** Default `ControlLimits.defaultLifetimeMs`; at most `maxLifetimeMs`. */
  readonly lifetimeMs?: number;
  /** Default: 16 random bytes, base64url. */
  readonly nonce?: string;
}

const newNonce = (): string => base64url.encode(globalThis.crypto.getRandomValues(new Uint8Array(16)));

/** Signs a control body for one target. Throws ERR_CONFIG_INVALID for a bad lifetime or body. */
export const signControl = async (body: ControlBody, options: SignControlOptions): Promise<ControlEnvelope> => {
  const lifetime = options.lifetimeMs ?? ControlLimits.defaultLifetimeMs;
  if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > ControlLimits.maxLifetimeMs) {
    throw new TetherError("ERR_CONFIG_INVALID", `a control lifetime is 1-${ControlLimits.maxLifetimeMs} ms`, { details: { lifetimeMs: lifetime } });
  }
  const claims = ControlClaims.safeParse({
    type: "tether.control.v1.claims",
    network: options.network,
    target: options.target,
    nonce: options.nonce ?? newNonce(),
    issuedAt: options.now,
    expiresAt: options.now + lifetime,
    body,
  });
  if (!claims.success) {
    throw new TetherError("ERR_CONFIG_INVALID", "the control message to sign is invalid", {
      details: { issues: claims.error.issues.slice(0, 8).map((i) => `${i.path.map(String).join(".")}: ${i.message}`) },
    });
  }
  const { key } = options;
  const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims.data)))
    .setProtectedHeader({ alg: key.alg, typ: CONTROL_TYP, kid: key.kid })
    .sign(key.privateKey);
  return { type: "tether.control.v1.signed", token };
};

/** A key as the control plane needs it: who holds it, and how to check its signatures. */
export interface ControlKey {
  readonly role: KeyRole;
  readonly owner: string;
  readonly key: ResolvedKey;
}

/** Where a verifier looks up signers: the network's key registry (only keys that verify now). */
export interface ControlKeys {
  lookup(kid: string): Promise<ControlKey | "revoked" | undefined>;
}

export interface VerifyControlOptions {
  readonly network: string;
  readonly target: string;
  /** Epoch ms. */
  readonly now: number;
  readonly keys: ControlKeys;
  readonly replay: ReplayCache;
  /** Default `ControlLimits.clockSkewMs`. */
  readonly clockSkewMs?: number;
  /** Default `ControlLimits.maxLifetimeMs`. */
  readonly maxLifetimeMs?: number;
  /**
   * A last check of the body (e.g. that a grant names exactly the request it came with), run before the
   * nonce is remembered: a message it refuses does not use up its nonce, so a captured genuine grant
   * cannot be burnt by sending it with another request first.
   */
  readonly accept?: (body: ControlBody) => void;
}

/** A control message that passed every check: its body, and who signed it in which role. */
export interface VerifiedControl {
  readonly body: ControlBody;
  readonly operation: ControlOperation;
  readonly kid: string;
  readonly role: KeyRole;
  readonly owner: string;
  readonly nonce: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** Who and what a refusal concerns, as far as it was learnt before the check failed. */
export interface ControlRefusalContext {
  kid?: string;
  role?: KeyRole;
  owner?: string;
  operation?: ControlOperation;
}

const refuse = (code: ErrorCode, message: string, context: ControlRefusalContext, cause?: unknown): TetherError =>
  new TetherError(code, message, { details: { ...context }, ...(cause === undefined ? {} : { cause }) });

const SEGMENT = /^[A-Za-z0-9_-]*$/;

/** The JWS header and payload, decoded without trusting them (undefined when not a compact JWS of JSON objects). */
export const peekControl = (token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } | undefined => {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p) && p.length % 4 !== 1)) return undefined;
  try {
    const [header, payload] = [parts[0], parts[1]].map((p) => JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(base64url.decode(p ?? ""))) as unknown);
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    return isObject(header) && isObject(payload) ? { header, payload } : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Verifies a control message in this order, one code per failure (every failure is a TetherError):
 * 1. the input is a signed envelope: a bare control body is ERR_CONTROL_UNSIGNED (so is `alg: none`),
 *    anything else ERR_CONTROL_MALFORMED;
 * 2. header: `alg` ES256/EdDSA, `typ` tether-control+jwt, `kid`, no `crit` (ERR_CONTROL_MALFORMED);
 * 3. the key: revoked (ERR_CONTROL_KEY_REVOKED), unknown or no longer verifying (ERR_CONTROL_KEY_UNKNOWN);
 * 4. the signature, with that key and only its algorithm (ERR_CONTROL_SIGNATURE_INVALID);
 * 5. the claims' schema (ERR_CONTROL_MALFORMED); network and target are this verifier's
 *    (ERR_CONTROL_MISDIRECTED);
 * 6. time: issuedAt not in the future beyond the skew (ERR_CONTROL_NOT_YET_VALID), a lifetime of at
 *    most `maxLifetimeMs` (ERR_CONTROL_LIFETIME_INVALID), not expired beyond the skew (ERR_CONTROL_EXPIRED);
 * 7. the role may perform the operation (ERR_CONTROL_FORBIDDEN; also a fence notice whose `by` is
 *    not the signing node, and a key publish of a role the signer may not manage);
 * 8. the nonce is new for this kid (ERR_CONTROL_REPLAYED), remembered until expiry plus skew.
 * Revoking a key managed by a role the signer may not manage is checked where the key's role is
 * known (the control plane), also as ERR_CONTROL_FORBIDDEN.
 */
export const verifyControl = async (input: unknown, options: VerifyControlOptions): Promise<VerifiedControl> => {
  const context: ControlRefusalContext = {};
  const envelope = ControlEnvelope.safeParse(input);
  if (!envelope.success) {
    if (ControlBody.safeParse(input).success) throw refuse("ERR_CONTROL_UNSIGNED", "control messages must be signed (a bare control body was sent)", context);
    throw refuse("ERR_CONTROL_MALFORMED", "not a signed control envelope", context);
  }
  const token = envelope.data.token;
  const peeked = peekControl(token);
  if (peeked === undefined) throw refuse("ERR_CONTROL_MALFORMED", "the control token is not a compact JWS", context);
  const { header } = peeked;
  const alg = header["alg"];
  if (typeof alg === "string" && alg.toLowerCase() === "none") throw refuse("ERR_CONTROL_UNSIGNED", "alg none: the control message is not signed", context);
  if (!isEctAlgorithm(alg)) throw refuse("ERR_CONTROL_MALFORMED", "control tokens are signed with ES256 or EdDSA", context);
  if (header["typ"] !== CONTROL_TYP) throw refuse("ERR_CONTROL_MALFORMED", `typ must be ${CONTROL_TYP}`, context);
  if (Object.hasOwn(header, "crit")) throw refuse("ERR_CONTROL_MALFORMED", "critical header parameters are not supported", context);
  const kid = header["kid"];
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 128) throw refuse("ERR_CONTROL_MALFORMED", "the control token has no usable kid", context);
  context.kid = kid;

  let found: ControlKey | "revoked" | undefined;
  try {
    found = await options.keys.lookup(kid);
  } catch (cause) {
    throw refuse("ERR_REGISTRY_FAILED", "the key registry could not be read", context, cause);
  }
  if (found === "revoked") throw refuse("ERR_CONTROL_KEY_REVOKED", `key ${kid} is revoked`, context);
  if (found === undefined) throw refuse("ERR_CONTROL_KEY_UNKNOWN", `no key ${kid} verifies in this network`, context);
  context.role = found.role;
  context.owner = found.owner;
  if (found.key.alg !== (alg as EctAlgorithm)) throw refuse("ERR_CONTROL_SIGNATURE_INVALID", `key ${kid} is a ${found.key.alg} key; the token claims ${alg}`, context);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, found.key.key, { algorithms: [alg] }));
  } catch (cause) {
    throw refuse("ERR_CONTROL_SIGNATURE_INVALID", `the control signature does not verify with key ${kid}`, context, cause);
  }

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (cause) {
    throw refuse("ERR_CONTROL_MALFORMED", "the control payload is not UTF-8 JSON", context, cause);
  }
  const parsed = ControlClaims.safeParse(json);
  if (!parsed.success) throw refuse("ERR_CONTROL_MALFORMED", "the control claims are invalid", context);
  const claims = parsed.data;
  const operation = operationOf(claims.body);
  context.operation = operation;
  if (claims.network !== options.network || claims.target !== options.target) {
    throw refuse("ERR_CONTROL_MISDIRECTED", `signed for ${claims.network}/${claims.target}, received by ${options.network}/${options.target}`, context);
  }

  const skew = options.clockSkewMs ?? ControlLimits.clockSkewMs;
  const maxLifetime = options.maxLifetimeMs ?? ControlLimits.maxLifetimeMs;
  if (claims.issuedAt > options.now + skew) throw refuse("ERR_CONTROL_NOT_YET_VALID", "issuedAt is in the future beyond the allowed clock skew", context);
  if (claims.expiresAt <= claims.issuedAt || claims.expiresAt - claims.issuedAt > maxLifetime) {
    throw refuse("ERR_CONTROL_LIFETIME_INVALID", `a control message is valid for 1-${maxLifetime} ms`, context);
  }
  if (options.now > claims.expiresAt + skew) throw refuse("ERR_CONTROL_EXPIRED", "the control message has expired", context);

  if (!mayPerform(found.role, operation)) throw refuse("ERR_CONTROL_FORBIDDEN", `${aRole(found.role)} key may not ${operation}`, context);
  const body = claims.body;
  if (body.type === "tether.node.v1.fence" && body.by !== found.owner) {
    throw refuse("ERR_CONTROL_FORBIDDEN", `node ${found.owner} may not send a fence notice for ${body.by}`, context);
  }
  if (body.type === "tether.node.v1.key-publish" && !mayManageKey(found.role, body.role)) {
    throw refuse("ERR_CONTROL_FORBIDDEN", `${aRole(found.role)} key may not publish ${aRole(body.role)} key`, context);
  }
  if (body.type === "tether.node.v1.member-add" && !mayManageMember(found.role, body.role)) {
    throw refuse("ERR_CONTROL_FORBIDDEN", `${aRole(found.role)} key may not add or change a member of role ${body.role}`, context);
  }
  options.accept?.(body);

  if (!(await options.replay.checkAndRemember(kid, claims.nonce, claims.expiresAt + skew))) {
    throw refuse("ERR_CONTROL_REPLAYED", "this control message (kid, nonce) was already accepted", context);
  }
  return { body, operation, kid, role: found.role, owner: found.owner, nonce: claims.nonce, issuedAt: claims.issuedAt, expiresAt: claims.expiresAt };
};

/**
 * A compensation request as it travels to the actor that undoes the action: the request, and a grant
 * signed by a key whose role may compensate, naming exactly this request (actor, jti, attempt, digest).
 * The actor runs `compensate()` only after the grant verifies.
 */
export const SignedCompensation = z.strictObject({
  type: z.literal("tether.rollback.v1.signed-compensate"),
  request: CompensationRequest,
  grant: ControlEnvelope,
});
export type SignedCompensation = z.infer<typeof SignedCompensation>;
