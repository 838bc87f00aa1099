import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { importJWK, type CryptoKey } from "jose";
import {
  EctPublicJwk,
  KeyRecord,
  TetherError,
  type ControlKey,
  type ControlKeys,
  type KeyPublishRequest,
  type KeyResolver,
  type KeyRole,
  type NetworkSubjects,
  type ResolvedKey,
  type SigningKey,
} from "../../protocols/index.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import { ensureKvBucket } from "./jetstream-provisioning.ts";

export interface KeyRegistryOptions {
  readonly replicas: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long a retired key still verifies (the longest a token it signed can be accepted). Default 15 min. */
  readonly retiredGraceMs?: number;
  /** Explicit bucket size limit (reserved on every replica). */
  readonly maxBytes?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A KV value as JSON, or undefined when it is not JSON. */
const parseJson = (value: Uint8Array): unknown => {
  try {
    return JSON.parse(decoder.decode(value)) as unknown;
  } catch {
    return undefined;
  }
};
/** kids stored in the registry: JWK thumbprints (base64url) and other KV-safe names. */
const KID = /^[A-Za-z0-9_-]{1,128}$/;
const isStorableKid = (kid: string): boolean => KID.test(kid);
const keyOf = (kid: string): string => {
  if (!isStorableKid(kid)) throw new TetherError("ERR_CONFIG_INVALID", `kid ${JSON.stringify(kid)} cannot be stored in the key registry`);
  return `key.${kid}`;
};

/**
 * The network's public keys as a JWKS in JetStream KV (`tether_<net>_keys`). A watch keeps a local
 * cache current, so a revocation written by any node takes effect everywhere within milliseconds.
 * Also the `KeyResolver` that ECT verification uses.
 */
export class KeyRegistry implements KeyResolver, ControlKeys, AsyncDisposable {
  readonly #kv: KV;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #graceMs: number;
  readonly #records = new Map<string, KeyRecord>();
  readonly #imported = new Map<string, ResolvedKey>();
  #stopWatch: (() => void) | undefined;

  private constructor(kv: KV, options: KeyRegistryOptions) {
    this.#kv = kv;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#graceMs = options.retiredGraceMs ?? 15 * 60_000;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: KeyRegistryOptions): Promise<KeyRegistry> {
    const kv = await ensureKvBucket(nc, subjects.keysBucket(), { history: 1, replicas: options.replicas, ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes }) });
    const registry = new KeyRegistry(kv, options);
    await registry.#watch();
    return registry;
  }

  async #watch(): Promise<void> {
    const watcher = await this.#kv.watch({ key: "key.>" });
    let ready: () => void = () => {};
    const initial = new Promise<void>((resolve) => (ready = resolve));
    this.#stopWatch = () => watcher.stop();
    // Nothing in this loop may throw: anyone who can publish to the bucket's subjects can write any
    // bytes there, and a throw here would be an unhandled rejection (the process exits).
    void (async () => {
      for await (const entry of watcher) {
        if (entry.operation === "PUT") {
          const parsed = KeyRecord.safeParse(parseJson(entry.value));
          if (parsed.success) this.#remember(parsed.data);
          else this.#logger.warn("ignoring an invalid key record", { key: entry.key.slice(0, 256) });
        }
        if (entry.delta === 0) ready();
      }
    })().catch((error: unknown) => this.#logger.error("key registry watch ended; keys published from now on are not seen", { error }));
    // an empty bucket has no initial entries to signal readiness
    const status = await this.#kv.status();
    if (status.values === 0) ready();
    await initial;
  }

  #remember(record: KeyRecord): void {
    const previous = this.#records.get(record.kid);
    this.#records.set(record.kid, record);
    if (previous?.status !== record.status) this.#imported.delete(record.kid);
  }

  /** Publishes a public key (status active). */
  async publish(key: SigningKey, role: KeyRole, owner: string): Promise<KeyRecord> {
    const record: KeyRecord = {
      type: "tether.keys.v1.key",
      kid: key.kid,
      alg: key.alg,
      role,
      owner,
      status: "active",
      jwk: { ...key.publicJwk },
      createdAt: this.#clock.now(),
    };
    await this.#put(record);
    return record;
  }

  /** Publishes someone else's public key (a key-publish control message: operators, people). */
  async publishPublic(request: Omit<KeyPublishRequest, "type">): Promise<KeyRecord> {
    const jwk = EctPublicJwk.safeParse(request.jwk);
    if (!jwk.success || jwk.data.kid !== request.kid) {
      throw new TetherError("ERR_CONFIG_INVALID", `the JWK of key ${request.kid} is not a usable ES256/EdDSA public key with that kid`);
    }
    const record: KeyRecord = {
      type: "tether.keys.v1.key",
      kid: request.kid,
      alg: request.alg,
      role: request.role,
      owner: request.owner,
      status: "active",
      jwk: { ...jwk.data },
      createdAt: this.#clock.now(),
    };
    await this.#put(record);
    return record;
  }

  /** Marks a key retired: it signs nothing new, and still verifies for the grace period. */
  async retire(kid: string): Promise<KeyRecord> {
    const current = await this.get(kid);
    if (current === undefined) throw new TetherError("ERR_KEY_NOT_FOUND", `no key ${kid} in the registry`);
    const record: KeyRecord = { ...current, status: "retired", retiredAt: this.#clock.now() };
    await this.#put(record);
    return record;
  }

  /** Revokes a key: from now on nothing it signed verifies, on every node. */
  async revoke(kid: string, reason: string): Promise<KeyRecord> {
    const current = await this.get(kid);
    if (current === undefined) throw new TetherError("ERR_KEY_NOT_FOUND", `no key ${kid} in the registry`);
    const record: KeyRecord = { ...current, status: "revoked", revokedAt: this.#clock.now(), reason: reason.slice(0, 1024) };
    await this.#put(record);
    return record;
  }

  async get(kid: string): Promise<KeyRecord | undefined> {
    const cached = this.#records.get(kid);
    if (cached !== undefined) return cached;
    if (!isStorableKid(kid)) return undefined;
    const entry = await this.#kv.get(keyOf(kid)).catch(() => null);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const parsed = KeyRecord.safeParse(parseJson(entry.value));
    if (!parsed.success) return undefined;
    this.#remember(parsed.data);
    return parsed.data;
  }

  /** Every key record (from the watched cache). */
  list(): KeyRecord[] {
    return [...this.#records.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  /** A JWKS of every key that currently verifies (active, or retired within the grace period). */
  jwks(): { keys: Record<string, unknown>[] } {
    return { keys: this.list().filter((r) => this.#verifies(r)).map((r) => r.jwk) };
  }

  /** Active node keys of one node (to retire the keys an earlier process of it left behind). */
  activeNodeKeys(nodeId: string): KeyRecord[] {
    return this.list().filter((r) => r.role === "node" && r.owner === nodeId && r.status === "active");
  }

  /** Whether the network has an owner key that verifies (no: the first owner key may bootstrap itself). */
  hasOwner(): boolean {
    return this.list().some((r) => r.role === "owner" && this.#verifies(r));
  }

  // ControlKeys: the signer of a control message, with its role
  async lookup(kid: string): Promise<ControlKey | "revoked" | undefined> {
    const record = await this.get(kid);
    if (record === undefined) return undefined;
    if (record.status === "revoked") return "revoked";
    const key = await this.resolve(kid);
    return key === undefined ? undefined : { role: record.role, owner: record.owner, key };
  }

  // KeyResolver
  isRevoked(kid: string): boolean {
    return this.#records.get(kid)?.status === "revoked";
  }

  async resolve(kid: string): Promise<ResolvedKey | undefined> {
    const record = await this.get(kid);
    if (record === undefined || !this.#verifies(record)) return undefined;
    const cached = this.#imported.get(kid);
    if (cached !== undefined) return cached;
    const jwk = EctPublicJwk.safeParse(record.jwk);
    if (!jwk.success) return undefined;
    const key = (await importJWK(jwk.data, record.alg)) as CryptoKey;
    const resolved: ResolvedKey = { key, alg: record.alg };
    this.#imported.set(kid, resolved);
    return resolved;
  }

  #verifies(record: KeyRecord): boolean {
    if (record.status === "active") return true;
    if (record.status === "retired") return this.#clock.now() <= (record.retiredAt ?? 0) + this.#graceMs;
    return false;
  }

  async #put(record: KeyRecord): Promise<void> {
    try {
      await this.#kv.put(keyOf(record.kid), encoder.encode(JSON.stringify(record)));
    } catch (cause) {
      throw new TetherError("ERR_KEY_REGISTRY_FAILED", `key registry write failed: ${String(cause)}`, { cause });
    }
    this.#remember(record);
  }

  close(): void {
    this.#stopWatch?.();
    this.#stopWatch = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
