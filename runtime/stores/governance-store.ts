import type { NatsConnection } from "@nats-io/transport-node";
import { KvWatchInclude, type KV } from "@nats-io/kv";
import { importJWK, type CryptoKey } from "jose";
import {
  EctPublicJwk,
  TetherError,
  defaultNetworkPolicy,
  governanceKeys,
  verifyGovernanceEntry,
  type GovernanceEntry,
  type HistoricKey,
  type HistoricKeys,
  type MemberRecord,
  type NetworkPolicy,
  type NetworkSubjects,
  type VerifiedGovernance,
} from "../../protocols/index.ts";
import type { Logger } from "../support/logger.ts";
import { ensureKvBucket } from "./jetstream-provisioning.ts";
import type { KeyRegistry } from "./key-registry.ts";

export interface GovernanceStoreOptions {
  readonly replicas: number;
  readonly logger: Logger;
  /** Explicit bucket size limit in bytes (reserved on every replica). */
  readonly maxBytes: number;
  /** Called for every bucket entry that does not verify (forged, replayed onto another key, deleted). */
  readonly onUntrusted?: (entryKey: string, error: TetherError) => void;
}

/** Bucket limits: 8 revisions per key (a replayed old entry cannot push a newer one out at once), 32 KiB values. */
const HISTORY = 8;
const MAX_VALUE_BYTES = 32 * 1024;

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const parseJson = (value: Uint8Array): unknown => {
  try {
    return JSON.parse(decoder.decode(value)) as unknown;
  } catch {
    return undefined;
  }
};

/**
 * Keys of the registry whatever their status: what verifying a past signature needs. The status is
 * read from the registry every time (a revocation counts at once); imported public keys are kept per
 * kid: measured on a loaded 2-core machine, checking an entry took 4.4 ms with two JWK imports and
 * 1.4 ms without, and a node start checks every revision in the bucket.
 */
export const historicKeys = (registry: KeyRegistry): HistoricKeys => {
  const imported = new Map<string, { readonly jwk: string; readonly key: CryptoKey }>();
  return {
    lookupAny: async (kid) => {
      const record = await registry.get(kid);
      if (record === undefined) return undefined;
      const jwk = EctPublicJwk.safeParse(record.jwk);
      if (!jwk.success) return undefined;
      const text = JSON.stringify(jwk.data);
      let cached = imported.get(kid);
      if (cached?.jwk !== text) {
        cached = { jwk: text, key: (await importJWK(jwk.data, record.alg)) as CryptoKey };
        if (imported.size >= 10_000) imported.clear();
        imported.set(kid, cached);
      }
      const found: HistoricKey = { role: record.role, owner: record.owner, status: record.status, retiredAt: record.retiredAt, revokedAt: record.revokedAt, key: { key: cached.key, alg: record.alg } };
      return found;
    },
  };
};

/**
 * The network's members and policy (JetStream KV `tether_<net>_governance`), verified on read: an
 * entry counts only if it carries an owner's or admin's signed control token and a node's attestation
 * (`verifyGovernanceEntry`); per key the verified entry with the latest `issuedAt` wins. A watch over
 * the whole history keeps the view current; anything that does not verify (a plain client's write,
 * an entry moved to another key, a delete) is ignored and reported through `onUntrusted`.
 */
export class GovernanceStore implements AsyncDisposable {
  readonly #kv: KV;
  readonly #network: string;
  readonly #keys: HistoricKeys;
  readonly #options: GovernanceStoreOptions;
  readonly #current = new Map<string, VerifiedGovernance>();
  #stopWatch: (() => void) | undefined;

  private constructor(kv: KV, network: string, keys: HistoricKeys, options: GovernanceStoreOptions) {
    this.#kv = kv;
    this.#network = network;
    this.#keys = keys;
    this.#options = options;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, keys: HistoricKeys, options: GovernanceStoreOptions): Promise<GovernanceStore> {
    const kv = await ensureKvBucket(nc, subjects.governanceBucket(), { history: HISTORY, replicas: options.replicas, max_bytes: options.maxBytes, maxValueSize: MAX_VALUE_BYTES });
    const store = new GovernanceStore(kv, subjects.network, keys, options);
    await store.#watch();
    return store;
  }

  async #watch(): Promise<void> {
    const watcher = await this.#kv.watch({ key: ">", include: KvWatchInclude.AllHistory });
    let ready: () => void = () => {};
    const initial = new Promise<void>((resolve) => (ready = resolve));
    this.#stopWatch = () => watcher.stop();
    // Nothing in this loop may throw: anyone who can publish to the bucket's subjects can write any bytes there.
    void (async () => {
      for await (const entry of watcher) {
        await this.#consider(entry.key, entry.operation, entry.value).catch((error: unknown) => this.#options.logger.warn("governance entry not considered", { key: entry.key.slice(0, 256), error }));
        if (entry.delta === 0) ready();
      }
    })().catch((error: unknown) => this.#options.logger.error("governance watch ended; membership and policy changes from now on are not seen", { error }));
    const status = await this.#kv.status();
    if (status.values === 0) ready();
    await initial;
  }

  async #consider(key: string, operation: string, value: Uint8Array): Promise<void> {
    const entryKey = key.slice(0, 256);
    if (operation !== "PUT") {
      // nodes never delete: a removal is a signed member-remove entry
      this.#options.onUntrusted?.(entryKey, new TetherError("ERR_GOVERNANCE_ENTRY_UNTRUSTED", `governance entry ${entryKey} was deleted outside the control plane (${operation}); the last verified value stays in force`));
      return;
    }
    try {
      this.#adopt(entryKey, await verifyGovernanceEntry(parseJson(value), { network: this.#network, entryKey, keys: this.#keys }));
    } catch (error) {
      const refusal = error instanceof TetherError ? error : new TetherError("ERR_GOVERNANCE_ENTRY_UNTRUSTED", String(error), { cause: error });
      this.#options.onUntrusted?.(entryKey, refusal);
    }
  }

  /** Takes a verified entry unless a later one (by issuedAt) is already in force. */
  #adopt(entryKey: string, verified: VerifiedGovernance): boolean {
    const current = this.#current.get(entryKey);
    if (current !== undefined && (current.issuedAt > verified.issuedAt || (current.issuedAt === verified.issuedAt && current.at >= verified.at))) return false;
    this.#current.set(entryKey, verified);
    return true;
  }

  /** The verified change in force for a bucket key (`policy`, `member.<id>`). */
  current(entryKey: string): VerifiedGovernance | undefined {
    return this.#current.get(entryKey);
  }

  /** The policy in force: the latest verified policy-set, or the default. */
  policy(): NetworkPolicy {
    const body = this.#current.get(governanceKeys.policy)?.body;
    return body?.type === "tether.node.v1.policy-set" ? body.policy : defaultNetworkPolicy();
  }

  /** The member in force under this id (undefined: never added, or removed). */
  member(id: string): MemberRecord | undefined {
    const verified = this.#current.get(governanceKeys.member(id));
    const body = verified?.body;
    if (verified === undefined || body?.type !== "tether.node.v1.member-add") return undefined;
    return { type: "tether.members.v1.member", id: body.member, role: body.role, keys: [...body.keys], since: verified.issuedAt, by: verified.by };
  }

  /** Every member in force, oldest first. */
  members(): MemberRecord[] {
    const out: MemberRecord[] = [];
    for (const key of this.#current.keys()) {
      if (!key.startsWith(governanceKeys.memberPrefix)) continue;
      const member = this.member(key.slice(governanceKeys.memberPrefix.length));
      if (member !== undefined) out.push(member);
    }
    return out.sort((a, b) => a.since - b.since);
  }

  /** Writes an entry this node verified and attested, and takes it into force here at once. */
  async write(entryKey: string, entry: GovernanceEntry, verified: VerifiedGovernance): Promise<void> {
    try {
      await this.#kv.put(entryKey, encoder.encode(JSON.stringify(entry)));
    } catch (cause) {
      throw new TetherError("ERR_GOVERNANCE_FAILED", `governance bucket write failed: ${String(cause)}`, { cause });
    }
    this.#adopt(entryKey, verified);
  }

  close(): void {
    this.#stopWatch?.();
    this.#stopWatch = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
