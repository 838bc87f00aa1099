import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  MemoryReplayCache,
  OVERRIDE_ACTOR_ID,
  TetherError,
  isTetherError,
  generateSigningKey,
  type KeyPublishRequest,
  type KeyRecord,
  levelRank,
  type NetworkSubjects,
  type AssuranceLevel,
  type SigningKey,
} from "../../protocols/index.ts";
import type { ActorRef } from "../actor/actor-types.ts";
import { profileLevel, type AssuranceOptionsResolved } from "./assurance-options.ts";
import type { Clock } from "../support/clock.ts";
import { KvEctStore } from "../stores/ect-store.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import type { EvidenceDeps } from "./evidence-record.ts";
import { networkAudience } from "./identity.ts";
import { loadOrCreateSigningKey } from "./key-file.ts";
import { KeyRegistry } from "../stores/key-registry.ts";
import { LedgerClient, type LedgerReceipt } from "./ledger-client.ts";
import type { Logger } from "../support/logger.ts";
import type { TetherMetrics } from "../telemetry/metrics.ts";
import { Quotas } from "./quotas.ts";
import { ViolationLog } from "./violation-log.ts";
import { IncomingVerifier, bindMessage, type IncomingMessage } from "./incoming-verifier.ts";

export interface AssuranceParams {
  readonly nc: NatsConnection;
  readonly subjects: NetworkSubjects;
  readonly nodeId: string;
  readonly options: AssuranceOptionsResolved;
  readonly replicas: number;
  readonly ectMaxAgeMs: number;
  /** The network's storage budget (MiB per bucket; see the node options). */
  readonly storage: { readonly keysMb: number; readonly ectMb: number; readonly usageMb: number };
  readonly clock: Clock;
  readonly logger: Logger;
  /** A ref to the network's audit ledger actor (used by the regulated profile and security events). */
  readonly ledgerRef: ActorRef<unknown, unknown>;
  /** Records ledger append latency and the entries awaiting receipts. */
  readonly metrics?: TetherMetrics;
}


/**
 * The assurance engine of one node: provides the action chain's assurance links (mint an ECT for
 * every `ctx.act`, meter, quota, ledger append), verifies the ECT on every incoming message per the node's minimum level, keeps the
 * ECT DAG store and, in the regulated profile, appends each token to the audit ledger before the
 * action returns. The profile is configuration; actor code never changes.
 */
export class Assurance {
  readonly level: AssuranceLevel;
  readonly minLevel: AssuranceLevel;
  readonly keys: KeyRegistry;
  readonly store: KvEctStore;
  readonly ledger: LedgerClient;
  readonly quotas: Quotas | undefined;
  #signingKey: SigningKey | undefined;
  #controlKey: SigningKey;
  readonly #p: AssuranceParams;
  readonly #incoming: IncomingVerifier;
  readonly #violations: ViolationLog;

  private constructor(p: AssuranceParams, keys: KeyRegistry, store: KvEctStore, signingKey: SigningKey | undefined, controlKey: SigningKey, quotas: Quotas | undefined) {
    this.#p = p;
    this.keys = keys;
    this.store = store;
    this.#signingKey = signingKey;
    this.#controlKey = controlKey;
    this.quotas = quotas;
    const profile = profileLevel(p.options.profile);
    this.level = profile === "L3" && p.options.ledger.mode === "async" ? "L2" : profile;
    this.minLevel = p.options.minLevel ?? profile;
    this.#incoming = new IncomingVerifier({
      network: p.subjects.network,
      audience: networkAudience(p.subjects.network),
      minLevel: this.minLevel,
      clockSkewSeconds: p.options.clockSkewSeconds,
      keys,
      store,
      replay: new MemoryReplayCache({ now: () => p.clock.now() }),
      clock: p.clock,
      logger: p.logger,
    });
    this.#violations = new ViolationLog((event, subject, details) => this.recordEvent(event, subject, details), () => p.clock.now());
    this.ledger = new LedgerClient(p.ledgerRef, { onUnavailable: p.options.ledger.onUnavailable, timeoutMs: p.options.ledger.timeoutMs, clock: p.clock, ...(p.metrics === undefined ? {} : { metrics: p.metrics }) });
  }

  static async open(p: AssuranceParams): Promise<Assurance> {
    const mb = 1024 * 1024;
    const keys = await KeyRegistry.open(p.nc, p.subjects, { replicas: p.replicas, clock: p.clock, logger: p.logger, maxBytes: p.storage.keysMb * mb });
    const store = await KvEctStore.open(p.nc, p.subjects, { replicas: p.replicas, maxAgeMs: p.ectMaxAgeMs, maxBytes: p.storage.ectMb * mb });
    let signingKey: SigningKey | undefined;
    if (p.options.profile !== "relaxed") {
      const path = join(p.options.keyDir, p.subjects.network, `${p.nodeId}.jwk.json`);
      const { key } = await loadOrCreateSigningKey(path, p.options.alg);
      signingKey = key;
      const existing = await keys.get(key.kid);
      if (existing?.status === "revoked") {
        throw new TetherError("ERR_ECT_KEY_REVOKED", `this node's key ${key.kid} was revoked: delete ${path} to make a new one`);
      }
      if (existing === undefined) await keys.publish(key, "node", p.nodeId);
    }
    const controlKey = signingKey ?? (await Assurance.#ephemeralNodeKey(keys, p));
    const quotas = p.options.quotas.length === 0 ? undefined : await Quotas.open(p.nc, p.subjects, p.options.quotas, { replicas: p.replicas, clock: p.clock, maxBytes: p.storage.usageMb * mb });
    return new Assurance(p, keys, store, signingKey, controlKey, quotas);
  }

  /**
   * The relaxed profile signs no tokens, but its control plane is authenticated like the others: the
   * node makes a key in memory (no file: relaxed stays zero-config), publishes it with role `node`,
   * and retires the keys earlier processes of this node id left active (they verify for the grace
   * period, then never again). `close` retires this one.
   */
  static async #ephemeralNodeKey(keys: KeyRegistry, p: AssuranceParams): Promise<SigningKey> {
    const key = await generateSigningKey(p.options.alg);
    const earlier = keys.activeNodeKeys(p.nodeId);
    await keys.publish(key, "node", p.nodeId);
    for (const record of earlier) await keys.retire(record.kid).catch(() => undefined);
    return key;
  }

  /** The key this node signs control messages with: its ECT key, or (relaxed) its in-memory node key. */
  get controlKey(): SigningKey {
    return this.#controlKey;
  }

  /** The kid this node signs with (standard and regulated profiles). */
  get kid(): string | undefined {
    return this.#signingKey?.kid;
  }

  /** Replaces this node's key: the new one signs from now on; the old one verifies until its tokens expire. */
  async rotateKey(): Promise<string> {
    if (this.#signingKey === undefined) {
      // relaxed: only the in-memory control key exists
      const key = await generateSigningKey(this.#p.options.alg);
      const record = await this.keys.publish(key, "node", this.#p.nodeId);
      const retired = await this.keys.retire(this.#controlKey.kid);
      this.#controlKey = key;
      await this.recordEvent("key.rotated", this.#p.nodeId, { by: this.#nodeSigner(), at: this.#p.clock.now(), node: this.#p.nodeId, old: publicView(retired), new: publicView(record) });
      return key.kid;
    }
    const old = this.#signingKey;
    const path = join(this.#p.options.keyDir, this.#p.subjects.network, `${this.#p.nodeId}.jwk.json`);
    const { rmSync } = await import("node:fs");
    rmSync(path, { force: true });
    const { key } = await loadOrCreateSigningKey(path, this.#p.options.alg);
    const record = await this.keys.publish(key, "node", this.#p.nodeId);
    this.#signingKey = key;
    this.#controlKey = key;
    const retired = await this.keys.retire(old.kid);
    await this.recordEvent("key.rotated", this.#p.nodeId, { by: this.#nodeSigner(), at: this.#p.clock.now(), node: this.#p.nodeId, oldKid: old.kid, newKid: key.kid, old: publicView(retired), new: publicView(record) });
    return key.kid;
  }

  /**
   * Revokes a key in the network (any node's) and records who did it, when, and the record before
   * and after (`key.revoked` in the ledger; logged when no ledger runs). `by` is the verified signer
   * of the revoke control message; this node itself when called from code.
   */
  async revokeKey(kid: string, reason: string, by?: KeyActor): Promise<KeyRecord> {
    const old = await this.keys.get(kid);
    const record = await this.keys.revoke(kid, reason);
    await this.recordEvent("key.revoked", kid, { by: by ?? this.#nodeSigner(), at: this.#p.clock.now(), node: this.#p.nodeId, reason: reason.slice(0, 1024), old: old === undefined ? null : publicView(old), new: publicView(record) });
    return record;
  }

  /** Publishes a public key (a person's, an agent's) and records who did it, when, old and new (`key.published`). */
  async publishKey(request: Omit<KeyPublishRequest, "type">, by?: KeyActor): Promise<KeyRecord> {
    const old = await this.keys.get(request.kid);
    const record = await this.keys.publishPublic(request);
    await this.recordEvent("key.published", request.kid, { by: by ?? this.#nodeSigner(), at: this.#p.clock.now(), node: this.#p.nodeId, old: old === undefined ? null : publicView(old), new: publicView(record) });
    return record;
  }

  /** Retires the relaxed profile's in-memory key (it can never sign again once the process ends). */
  async release(): Promise<void> {
    if (this.#signingKey === undefined) await this.keys.retire(this.#controlKey.kid).catch(() => undefined);
  }

  #nodeSigner(): KeyActor {
    return { kid: this.#controlKey.kid, role: "node", owner: this.#p.nodeId };
  }

  /** Appends a security event to the ledger; logged (not thrown) when no ledger is reachable. */
  async recordEvent(event: string, subject: string, details: Record<string, unknown>): Promise<LedgerReceipt | undefined> {
    try {
      return await this.ledger.append({ kind: "event", event, subject, details });
    } catch (error) {
      this.#p.logger.warn("security event not recorded in the ledger", { event, subject, error });
      return undefined;
    }
  }

  /** The key this node signs with now (undefined in the relaxed profile: tokens are unsigned). */
  get signingKey(): SigningKey | undefined {
    return this.#signingKey;
  }

  /** What signs and stores this node's evidence records (violations, rollback causes). */
  get evidence(): EvidenceDeps {
    return {
      network: this.#p.subjects.network,
      nodeId: this.#p.nodeId,
      level: this.level,
      signingKey: () => this.#signingKey,
      tokenTtlSeconds: this.#p.options.tokenTtlSeconds,
      store: this.store,
      clock: this.#p.clock,
    };
  }

  /** The resolved assurance options this engine runs with. */
  get options(): AssuranceOptionsResolved {
    return this.#p.options;
  }

  /**
   * Verifies the ECT an incoming message carries, per this node's minimum level (see
   * `IncomingVerifier`: level, token, binding to this message, receipt, replay). Every refusal is a
   * `violation` record in the ledger (rate-limited) before the error goes back to the message path.
   */
  async verifyIncoming(m: IncomingMessage): Promise<ScopeToken | undefined> {
    try {
      return m.token === undefined ? this.#untokened(m.actorId) : await this.#incoming.verify({ ...m, token: m.token });
    } catch (error) {
      const code = isTetherError(error) ? error.code : "ERR_ECT_MALFORMED";
      this.#violations.record(m.actorId, {
        source: "message",
        code,
        reason: (error instanceof Error ? error.message : String(error)).slice(0, 512),
        node: this.#p.nodeId,
        messageId: m.messageId.slice(0, 128),
      });
      throw error;
    }
  }

  /**
   * The `Execution-Context-Binding` header value for `token` on one message (signed by this node's
   * key); undefined for an unsigned token.
   */
  bind(token: ScopeToken, messageId: string, target: string, data: Uint8Array): string | undefined {
    return bindMessage(this.#controlKey, this.#p.subjects.network, token, messageId, target, data);
  }

  /**
   * True when a message without a token must be refused before its actor sees it: the regulated
   * profile, or any node whose `minLevel` is set above L1. The standard profile's default (L2)
   * verifies the tokens it gets and, as before, lets untokened messages through.
   */
  get requiresToken(): boolean {
    const explicit = this.#p.options.minLevel;
    return this.#p.options.profile === "regulated" || (explicit !== undefined && levelRank(explicit) > levelRank("L1"));
  }

  /**
   * A message without a token: accepted below L2 (relaxed), refused otherwise, except for the audit
   * ledger actor, whose appends come from nodes' runtime code, not from actions (its own input is
   * guarded by the ledger's checks), and the override actor, whose requests come from people (the CLI,
   * an `OverrideClient`) with no execution context and are each a signed control JWS it verifies.
   */
  #untokened(actorId: string): undefined {
    if (!this.requiresToken || actorId === this.#p.options.ledger.actorId || actorId === OVERRIDE_ACTOR_ID) return undefined;
    throw new TetherError("ERR_ECT_MISSING", `message to ${actorId} carries no execution context; this node requires ${this.minLevel}`, {
      details: { minLevel: this.minLevel },
    });
  }

  close(): void {
    this.keys.close();
  }
}

/** Who changed a key: the verified signer of the control message (or this node). */
export interface KeyActor {
  readonly kid: string;
  readonly role: string;
  readonly owner: string;
}

/** A key record as the ledger keeps it: everything but the JWK's key material (the kid identifies it). */
const publicView = (record: KeyRecord): Record<string, unknown> => {
  const { jwk: _jwk, ...rest } = record;
  return rest;
};

