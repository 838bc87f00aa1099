import {
  GLOBAL_REPLAY_SCOPE,
  HeaderNames,
  TetherError,
  isTetherError,
  levelRank,
  messageBindingValid,
  readMessageBinding,
  signMessageBinding,
  verifyEct,
  verifyReceiptSignature,
  VerifiedReceiptBatches,
  verifyUnsignedEct,
  type AssuranceLevel,
  type EctClaims,
  type MemoryReplayCache,
  type ResolveReceiptKey,
  type SigningKey,
} from "../../protocols/index.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import type { KvEctStore } from "../stores/ect-store.ts";
import type { KeyRegistry } from "../stores/key-registry.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";

/** One message as the verifier sees it: its headers, where it goes, and its bytes. */
export interface IncomingMessage {
  readonly token: string | undefined;
  readonly receipt: string | undefined;
  readonly binding: string | undefined;
  readonly actorId: string;
  readonly messageId: string;
  /** The NATS payload exactly as it arrived (the binding covers its SHA-256). */
  readonly data: Uint8Array;
  /**
   * The JetStream stream sequence of a durable message: JetStream redelivers the same stored message
   * (same sequence) legitimately; the same message stored again (another sequence) is a replay.
   */
  readonly sequence?: number;
}

export interface IncomingVerifierDeps {
  readonly network: string;
  readonly audience: string;
  readonly minLevel: AssuranceLevel;
  readonly clockSkewSeconds: number;
  readonly keys: KeyRegistry;
  readonly store: KvEctStore;
  readonly replay: MemoryReplayCache;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** A signed token verified once (signature, claims, times, parents), kept until it could no longer be accepted. */
interface VerifiedToken {
  readonly claims: EctClaims;
  readonly kid: string;
  /** Epoch ms after which the token is refused anyway (min of exp + skew and iat + max age). */
  readonly acceptUntil: number;
  /** The receipts already verified for this token (normally one). */
  readonly receipts: Set<string>;
}

/** Verified tokens kept (a fan-out verifies its token once); the oldest is dropped beyond this. */
const CACHE_ENTRIES = 4_096;
/** ECT maximum age (the verifier's default, 900 s). */
const MAX_AGE_SECONDS = 900;
/** Roles whose keys may bind a token to a message (the runtime signs with the node's key). */
const BINDING_ROLES: ReadonlySet<string> = new Set(["node", "agent"]);

/**
 * The message-path checks of one node, in order: the level the token can reach (cheap refusals first),
 * the token itself (verified once per token, then cached by its exact text), the binding of the token
 * to this message (a node key's signature over jti, message id, target, network and body hash), the
 * ledger receipt (the ledger key's signature over this token), and the replay check.
 */
export class IncomingVerifier {
  readonly #d: IncomingVerifierDeps;
  readonly #verified = new Map<string, VerifiedToken>();
  /** Durable replay key → the stream sequence that first presented it, and until when it is kept. */
  readonly #durable = new Map<string, { readonly sequence: number; readonly until: number }>();
  readonly #receiptKey: ResolveReceiptKey;
  /** Receipt batches whose ledger signature verified (the receipts of one append share it). */
  readonly #receiptBatches = new VerifiedReceiptBatches();

  constructor(deps: IncomingVerifierDeps) {
    this.#d = deps;
    this.#receiptKey = async (kid) => {
      const found = await deps.keys.lookup(kid);
      return typeof found === "object" && found.role === "audit" ? found.key : undefined;
    };
  }

  async verify(m: IncomingMessage & { readonly token: string }): Promise<ScopeToken> {
    const { token, receipt } = m;
    const minLevel = this.#d.minLevel;
    const unsigned = !token.includes(".");
    const best: AssuranceLevel = unsigned ? "L1" : receipt === undefined ? "L2" : "L3";
    if (levelRank(best) < levelRank(minLevel)) throw tooLow(best, minLevel);
    if (unsigned) return this.#unsigned(m);

    const verified = await this.#token(token);
    const claims = verified.claims;
    // the binding: a captured token cannot authorise another body, target or message id
    if (levelRank(minLevel) >= levelRank("L2")) await this.#checkBinding(m, claims.jti);
    let level: AssuranceLevel = "L2";
    if (receipt !== undefined) {
      if (await this.#receiptValid(receipt, token, verified)) level = "L3";
      else if (minLevel === "L3") {
        // a made-up receipt, or the genuine receipt of another token: refused where L3 is required
        await this.#receiptValid(receipt, token, verified, true);
      }
      // below L3 a receipt that does not verify only costs the token its L3 (it counts as L2)
    }
    this.#checkReplay(claims, verified.acceptUntil, m);
    return { token, jti: claims.jti, wid: claims.wid, level, receipt: level === "L3" ? receipt : undefined };
  }

  /** The token's signature, claims and parents, verified once per exact token text. */
  async #token(token: string): Promise<VerifiedToken> {
    const now = this.#d.clock.now();
    const cached = this.#verified.get(token);
    if (cached !== undefined) {
      if (now < cached.acceptUntil && !this.#d.keys.isRevoked(cached.kid)) return cached;
      this.#verified.delete(token); // expired or revoked since: verify again, for the precise error
    }
    const minLevel = this.#d.minLevel;
    const v = await verifyEct(token, {
      audience: this.#d.audience,
      clockSkewSeconds: this.#d.clockSkewSeconds,
      now: () => this.#d.clock.now(),
      keys: this.#d.keys,
      // relaxed: no parent lookups; standard: look up and report; regulated: reject missing parents
      ...(minLevel === "L1" ? { allowMissingParents: true } : { store: this.#d.store, allowMissingParents: minLevel !== "L3" }),
    });
    if (v.missingParents.length > 0 && minLevel === "L2") {
      this.#d.logger.warn("ECT parents missing from the store (partial verification)", { jti: v.claims.jti, missing: v.missingParents });
    }
    const claims = v.claims;
    const acceptUntil = Math.min(claims.exp + this.#d.clockSkewSeconds, claims.iat + MAX_AGE_SECONDS) * 1000;
    const entry: VerifiedToken = { claims, kid: v.header?.kid ?? "", acceptUntil, receipts: new Set() };
    if (this.#verified.size >= CACHE_ENTRIES) {
      const oldest = this.#verified.keys().next();
      if (oldest.done !== true) this.#verified.delete(oldest.value);
    }
    this.#verified.set(token, entry);
    return entry;
  }

  async #unsigned(m: IncomingMessage & { readonly token: string }): Promise<ScopeToken> {
    const v = await verifyUnsignedEct(m.token, {
      audience: this.#d.audience,
      clockSkewSeconds: this.#d.clockSkewSeconds,
      now: () => this.#d.clock.now(),
      allowMissingParents: true,
    });
    const claims = v.claims;
    this.#checkReplay(claims, Math.min(claims.exp + this.#d.clockSkewSeconds, claims.iat + MAX_AGE_SECONDS) * 1000, m);
    return { token: m.token, jti: claims.jti, wid: claims.wid, level: "L1", receipt: undefined };
  }

  async #checkBinding(m: IncomingMessage, jti: string): Promise<void> {
    if (m.binding === undefined) {
      throw new TetherError("ERR_ECT_BINDING_MISSING", `message ${m.messageId.slice(0, 128)} to ${m.actorId} carries a signed token but no ${HeaderNames.binding} header`);
    }
    const header = readMessageBinding(m.binding);
    const signer = await this.#d.keys.lookup(header.kid);
    const invalid = (reason: string) =>
      new TetherError("ERR_ECT_BINDING_INVALID", `the message binding is invalid: ${reason}`, { details: { reason, kid: header.kid.slice(0, 128) } });
    if (signer === "revoked") throw invalid(`key ${header.kid} is revoked`);
    if (signer === undefined) throw invalid(`no key has kid ${header.kid}`);
    if (!BINDING_ROLES.has(signer.role)) throw invalid(`key ${header.kid} is a ${signer.role} key, not a node's`);
    if (signer.key.alg !== header.alg) throw invalid(`key ${header.kid} is a ${signer.key.alg} key; the binding claims ${header.alg}`);
    const subject = { network: this.#d.network, jti, messageId: m.messageId, target: m.actorId, data: m.data };
    if (!messageBindingValid(header, subject, signer.key.key)) {
      throw invalid("it was signed for another token, message id, target or body");
    }
  }

  /** True when `receipt` is the ledger's signed receipt of this token; with `orThrow`, its error instead of false. */
  async #receiptValid(receipt: string, token: string, verified: VerifiedToken, orThrow = false): Promise<boolean> {
    if (verified.receipts.has(receipt)) return true;
    try {
      await verifyReceiptSignature(receipt, { network: this.#d.network, jti: verified.claims.jti, token }, this.#receiptKey, this.#receiptBatches);
    } catch (error) {
      if (orThrow || !isTetherError(error) || error.code !== "ERR_RECEIPT_INVALID") throw error;
      this.#d.logger.debug("a receipt that does not verify: the token counts as L2", { jti: verified.claims.jti, reason: error.message });
      return false;
    }
    if (verified.receipts.size < 8) verified.receipts.add(receipt);
    return true;
  }

  /** True for the first stored copy of a durable message (and its redeliveries); false for another copy. */
  #durableFresh(key: string, sequence: number, until: number): boolean {
    const seen = this.#durable.get(key);
    if (seen !== undefined && seen.until > this.#d.clock.now()) return seen.sequence === sequence;
    if (this.#durable.size >= DURABLE_ENTRIES) {
      const oldest = this.#durable.keys().next();
      if (oldest.done !== true) this.#durable.delete(oldest.value);
    }
    this.#durable.set(key, { sequence, until });
    return true;
  }

  /**
   * The replay key is (wid or *, receiving actor, message id, jti): an action's token rides on every
   * message the action sends; what must never repeat is the same message presenting it again.
   */
  #checkReplay(claims: EctClaims, acceptUntil: number, m: IncomingMessage): void {
    const scope = `${claims.wid ?? GLOBAL_REPLAY_SCOPE}|${m.actorId}|${m.messageId}`;
    const fresh = m.sequence === undefined ? this.#d.replay.checkAndRemember(scope, claims.jti.toLowerCase(), acceptUntil) : this.#durableFresh(`${scope}|${claims.jti.toLowerCase()}`, m.sequence, acceptUntil);
    if (fresh !== true) {
      throw new TetherError("ERR_ECT_REPLAYED", `ECT ${claims.jti} was already presented by message ${m.messageId.slice(0, 128)} to ${m.actorId}`, {
        details: { jti: claims.jti, scope },
      });
    }
  }
}

/** Durable messages remembered for the replay check at most (the oldest is dropped beyond this). */
const DURABLE_ENTRIES = 100_000;

const tooLow = (level: AssuranceLevel, minLevel: AssuranceLevel): TetherError =>
  new TetherError("ERR_ECT_LEVEL_TOO_LOW", `token level ${level} is below this node's minimum ${minLevel}`, { details: { level, minLevel } });

/**
 * The sender's half: the `Execution-Context-Binding` value for a signed token on one message, signed by
 * this node's key. Undefined for an unsigned (L1) token, which nothing binds.
 */
export const bindMessage = (key: SigningKey, network: string, token: ScopeToken, messageId: string, target: string, data: Uint8Array): string | undefined =>
  token.token.includes(".")
    ? signMessageBinding({ network, jti: token.jti, messageId, target, data }, { kid: key.kid, alg: key.alg, key: key.privateKey })
    : undefined;
