import { importJWK, type CryptoKey } from "jose";
import {
  EctPublicJwk,
  KeyPublishRequest,
  MemoryReplayCache,
  TetherError,
  compensationDigest,
  isTetherError,
  peekControl,
  verifyControl,
  type CompensationRequest,
  type ControlKeys,
  type ControlRefusalContext,
  type ControlBody,
  type KeyRole,
  type VerifiedControl,
} from "../../protocols/index.ts";
import type { NodeCore } from "../node-core.ts";
import type { KeyRegistry } from "../stores/key-registry.ts";

import { ViolationLog, type RecordEvent } from "../assurance/violation-log.ts";

export type { RecordEvent };

/**
 * Whether a person's key may act: false when the network has an owner member and the key's owner is
 * no member whose role may hold it; true otherwise. See docs/networks-roles.md.
 */
export type MembershipGate = (signer: { readonly kid: string; readonly role: KeyRole; readonly owner: string }) => boolean;

/** People's roles: control they sign is recorded when accepted too (machine control is not: failover would flood the ledger). */
const PEOPLE = new Set(["owner", "admin", "operator", "approver", "observer"]);

/**
 * Authenticates control messages for one node: signature by a key of the network's registry, not
 * revoked, not expired, nonce not replayed (bounded in-memory cache, entries kept until expiry), and
 * the key's role allowed to do it (see `verifyControl` and `ControlRoles` in protocols/). Every
 * refusal becomes a `violation` event in the audit ledger and a `control-refused` node event.
 */
export class ControlGuard {
  readonly #core: NodeCore;
  readonly #keys: KeyRegistry;
  readonly #record: RecordEvent;
  readonly #replay: MemoryReplayCache;
  readonly #violations: ViolationLog;
  readonly #membership: MembershipGate | undefined;

  constructor(p: { core: NodeCore; keys: KeyRegistry; recordEvent: RecordEvent; membership?: MembershipGate }) {
    this.#core = p.core;
    this.#membership = p.membership;
    this.#keys = p.keys;
    this.#record = p.recordEvent;
    this.#violations = new ViolationLog(p.recordEvent, () => p.core.clock.now());
    this.#replay = new MemoryReplayCache({ now: () => p.core.clock.now() });
  }

  /**
   * Verifies a decoded control message addressed to `target` (this node's id, or an actor id). Once
   * the network has members, a person's key acts only while a member holds it (ERR_CONTROL_FORBIDDEN).
   */
  async verify(input: unknown, target: string, accept?: (body: ControlBody) => void): Promise<VerifiedControl> {
    const verified = await this.#verify(input, target, accept);
    if (PEOPLE.has(verified.role) && this.#membership?.(verified) === false) {
      const context = { kid: verified.kid, role: verified.role, owner: verified.owner, operation: verified.operation };
      throw new TetherError("ERR_CONTROL_FORBIDDEN", `key ${verified.kid} (${verified.role} key of ${verified.owner}) belongs to no member of network ${this.#core.network}`, { details: context });
    }
    return verified;
  }

  #verify(input: unknown, target: string, accept?: (body: ControlBody) => void): Promise<VerifiedControl> {
    return verifyControl(input, {
      network: this.#core.network,
      target,
      now: this.#core.clock.now(),
      keys: this.#bootstrapKeys(input) ?? this.#keys,
      replay: this.#replay,
      clockSkewMs: this.#core.options.assurance.clockSkewSeconds * 1000,
      ...(accept === undefined ? {} : { accept }),
    });
  }

  /**
   * Verifies the signed grant that must accompany a compensation request to `actorId`: signed for
   * that actor, by a role that may compensate, naming exactly this request (its digest).
   */
  verifyCompensation(grant: unknown, actorId: string, request: CompensationRequest): Promise<VerifiedControl> {
    return this.verify(grant, actorId, (body) => {
      if (body.type !== "tether.rollback.v1.compensate-grant" || body.actorId !== actorId || body.jti !== request.jti || body.attempt !== request.attempt || body.digest !== compensationDigest(request)) {
        throw new TetherError("ERR_CONTROL_MISDIRECTED", `the signed grant does not name this compensation request to ${actorId}`);
      }
    });
  }

  /**
   * The first owner key of a network may vouch for itself: a key-publish of an owner key, signed by
   * that very key (proof of possession), while the registry holds no owner key. Trust on first use:
   * create the owner key when the network is created.
   */
  #bootstrapKeys(input: unknown): ControlKeys | undefined {
    const token = (input as { token?: unknown } | null)?.token;
    if (typeof token !== "string" || this.#keys.hasOwner()) return undefined;
    const peeked = peekControl(token);
    const request = KeyPublishRequest.safeParse((peeked?.payload["body"] as unknown) ?? null);
    if (peeked === undefined || !request.success || request.data.role !== "owner" || peeked.header["kid"] !== request.data.kid) return undefined;
    const jwk = EctPublicJwk.safeParse(request.data.jwk);
    if (!jwk.success || jwk.data.kid !== request.data.kid) return undefined;
    const owner = request.data.owner;
    const alg = request.data.alg;
    return {
      lookup: async (kid) => {
        if (kid !== jwk.data.kid) return undefined;
        const key = (await importJWK(jwk.data, alg)) as CryptoKey;
        return { role: "owner", owner, key: { key, alg } };
      },
    };
  }

  /**
   * Records a refusal (ledger `violation` event, node event, warning) and returns the error to answer
   * the sender with. `from` names the sender when the transport tells (NATS does not authenticate it).
   */
  refused(error: unknown, target: string, extra: Record<string, unknown> = {}): TetherError {
    const refusal = isTetherError(error) ? error : new TetherError("ERR_CONTROL_MALFORMED", `control message refused: ${String(error)}`, { cause: error });
    const context = refusal.details as ControlRefusalContext;
    this.#core.emit({
      type: "control-refused",
      code: refusal.code,
      target,
      message: refusal.message,
      ...(context.operation === undefined ? {} : { operation: context.operation }),
      ...(context.kid === undefined ? {} : { kid: context.kid }),
    });
    this.#core.logger.warn("control message refused", { code: refusal.code, target, reason: refusal.message });
    this.#violations.record(target, {
      source: "control",
      code: refusal.code,
      reason: refusal.message.slice(0, 512),
      node: this.#core.id,
      ...pick(context),
      ...extra,
    });
    return refusal;
  }

  /** Records control a person signed (who, what, when); node-signed control is not recorded. */
  accepted(verified: VerifiedControl, target: string, extra: Record<string, unknown> = {}): void {
    if (!PEOPLE.has(verified.role)) return;
    void this.#record("control.accepted", target, {
      operation: verified.operation,
      kid: verified.kid,
      role: verified.role,
      owner: verified.owner,
      node: this.#core.id,
      at: this.#core.clock.now(),
      ...extra,
    });
  }
}

const pick = (context: ControlRefusalContext): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const key of ["kid", "role", "owner", "operation"] as const) {
    const value = context[key];
    if (typeof value === "string") out[key] = value.slice(0, 256);
  }
  return out;
};
