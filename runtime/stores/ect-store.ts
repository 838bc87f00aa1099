import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { ensureKvBucket } from "./jetstream-provisioning.ts";
import { z } from "zod";
import { AssuranceLevel, TetherError, type EctStore, type NetworkSubjects } from "../../protocols/index.ts";

/** What the ECT DAG store keeps of each token (JetStream KV `tether_<net>_ect`, key `ect.<jti>`). */
export const StoredEctRecord = z.strictObject({
  jti: z.string().max(256),
  iat: z.number().int(),
  par: z.array(z.string().max(256)).max(100),
  wid: z.string().max(64).optional(),
  iss: z.string().max(2048),
  exec_act: z.string().max(256),
  level: AssuranceLevel,
  token: z.string().max(64 * 1024),
  /** The actor that performed the action. */
  actor: z.string().max(128).optional(),
  /** When it was minted, in ms (finer than iat, for ordering). */
  at: z.number().int().optional(),
  outcome: z.enum(["ok", "failed", "refused"]).optional(),
  /** For compensable actions: the declared compensation, and msgpack(base64) of { params, result }. */
  undo: z.strictObject({ compensation: z.string().max(256), data: z.string().max(512 * 1024) }).optional(),
});
export type StoredEctRecord = z.infer<typeof StoredEctRecord>;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** jtis are UUIDs from Tether minters; other issuers may use any KV-safe string. */
const JTI = /^[0-9A-Za-z_=-]{1,200}$/;

/**
 * The ECT DAG store: answers parent lookups for validation and for rollback, across nodes.
 * A small bounded cache in front of KV serves the common case (a parent minted moments ago).
 */
export class KvEctStore implements EctStore {
  readonly #kv: KV;
  readonly #cache = new Map<string, StoredEctRecord>();
  readonly #cacheSize: number;

  private constructor(kv: KV, cacheSize: number) {
    this.#kv = kv;
    this.#cacheSize = cacheSize;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: { replicas: number; maxAgeMs: number; cacheSize?: number; maxBytes?: number }): Promise<KvEctStore> {
    const kv = await ensureKvBucket(nc, subjects.ectBucket(), { history: 1, replicas: options.replicas, ttl: options.maxAgeMs, ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes }) });
    return new KvEctStore(kv, options.cacheSize ?? 10_000);
  }

  async put(record: StoredEctRecord): Promise<void> {
    if (!JTI.test(record.jti)) throw new TetherError("ERR_ECT_CLAIM_INVALID", `jti ${JSON.stringify(record.jti)} cannot be stored`);
    this.#remember(record);
    try {
      await this.#kv.put(`ect.${record.jti}`, encoder.encode(JSON.stringify(record)));
      // a per-workflow index, so rollback and queries need not scan the bucket
      if (record.wid !== undefined && JTI.test(record.wid)) await this.#kv.put(`wf.${record.wid}.${record.jti}`, EMPTY);
      // compensable actions are also indexed by actor, so a supervisor can undo what a failed child did
      if (record.undo !== undefined && record.actor !== undefined) await this.#kv.put(`ac.${record.actor}.${record.jti}`, EMPTY);
    } catch (cause) {
      throw new TetherError("ERR_ECT_STORE_FAILED", `storing ECT ${record.jti} failed: ${String(cause)}`, { cause });
    }
  }

  async get(jti: string): Promise<StoredEctRecord | undefined> {
    const cached = this.#cache.get(jti);
    if (cached !== undefined) return cached;
    if (!JTI.test(jti)) return undefined;
    const entry = await this.#kv.get(`ect.${jti}`).catch(() => null);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const parsed = StoredEctRecord.safeParse(entry.json());
    if (!parsed.success) return undefined;
    this.#remember(parsed.data);
    return parsed.data;
  }

  /** Every stored record of one workflow. */
  listWorkflow(wid: string): Promise<StoredEctRecord[]> {
    return this.#listIndex("wf", wid);
  }

  /** The compensable actions an actor performed (oldest first, by minting time). */
  async listCompensableBy(actorId: string): Promise<StoredEctRecord[]> {
    return (await this.#listIndex("ac", actorId)).sort((a, b) => (a.at ?? a.iat * 1000) - (b.at ?? b.iat * 1000));
  }

  /** The records an index (`<index>.<id>.<jti>` keys) lists under `id`. */
  async #listIndex(index: "wf" | "ac", id: string): Promise<StoredEctRecord[]> {
    if (!JTI.test(id)) return [];
    const prefix = `${index}.${id}.`;
    const keys = await this.#kv.keys(`${prefix}>`);
    const jtis: string[] = [];
    for await (const k of keys) jtis.push(k.slice(prefix.length));
    const out: StoredEctRecord[] = [];
    for (const jti of jtis) {
      const r = await this.get(jti);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /** Every stored record (for `tether usage`); reads the whole bucket. */
  async *all(): AsyncGenerator<StoredEctRecord> {
    const keys = await this.#kv.keys("ect.>");
    const names: string[] = [];
    for await (const k of keys) names.push(k);
    for (const name of names) {
      const entry = await this.#kv.get(name).catch(() => null);
      if (entry === null || entry.operation !== "PUT") continue;
      const parsed = StoredEctRecord.safeParse(entry.json());
      if (parsed.success) yield parsed.data;
    }
  }

  #remember(record: StoredEctRecord): void {
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(record.jti, record);
  }
}
