import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { ActiveOverride, TetherError, overrideSubjects } from "../../protocols/index.ts";
import { ensureKvBucket } from "./jetstream-provisioning.ts";

const encoder = new TextEncoder();

const parse = (text: string): ActiveOverride | undefined => {
  try {
    const parsed = ActiveOverride.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The network's active overrides (JetStream KV `tether_<net>_overrides`, key `o.<id>`, JSON
 * `ActiveOverride` holding the operator-signed token). The override actor writes it; every node reads
 * it before it handles anything (start, reconnect, activation) and checks each record's signature
 * itself, so a record written straight into the bucket without a person's signature is ignored.
 */
export class OverrideStore {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(nc: NatsConnection, network: string, options: { replicas: number; maxBytes?: number }): Promise<OverrideStore> {
    const bucket = overrideSubjects(network).bucket();
    try {
      return new OverrideStore(await ensureKvBucket(nc, bucket, { history: 1, replicas: options.replicas, ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes }) }));
    } catch (cause) {
      throw new TetherError("ERR_STORE_UNAVAILABLE", `cannot open the override bucket ${bucket}: ${String(cause)}`, { cause });
    }
  }

  async get(id: string): Promise<ActiveOverride | undefined> {
    const entry = await this.#kv.get(`o.${id}`);
    return entry === null || entry.operation !== "PUT" ? undefined : parse(entry.string());
  }

  async put(record: ActiveOverride): Promise<void> {
    await this.#kv.put(`o.${record.id}`, encoder.encode(JSON.stringify(record)));
  }

  /**
   * Changes a record unless it changed or was lifted meanwhile (compare-and-set on its revision, so a
   * lift is never undone). True when written.
   */
  async amend(id: string, change: (record: ActiveOverride) => ActiveOverride, attempts = 5): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.#kv.get(`o.${id}`);
      if (entry === null || entry.operation !== "PUT") return false; // lifted: never written back
      const record = parse(entry.string());
      if (record === undefined) return false;
      try {
        await this.#kv.update(`o.${id}`, encoder.encode(JSON.stringify(change(record))), entry.revision);
        return true;
      } catch (error) {
        // changed meanwhile (or a replica answered with an older revision): read again and retry
        if (attempt >= attempts) throw new TetherError("ERR_STORE_UNAVAILABLE", `override ${id} could not be amended: ${String(error)}`, { cause: error });
      }
    }
  }

  /** Marks a record's acknowledgement deadline settled (see `amend`). */
  settle(id: string, at: number): Promise<boolean> {
    return this.amend(id, (record) => ({ ...record, settledAt: at }));
  }

  async delete(id: string): Promise<void> {
    await this.#kv.delete(`o.${id}`);
  }

  /** Every readable active override (unreadable values are skipped). */
  async list(): Promise<ActiveOverride[]> {
    const out: ActiveOverride[] = [];
    const keys = await this.#kv.keys("o.>");
    const names: string[] = [];
    for await (const key of keys) names.push(key);
    for (const key of names) {
      const entry = await this.#kv.get(key);
      if (entry === null || entry.operation !== "PUT") continue;
      const record = parse(entry.string());
      if (record !== undefined) out.push(record);
    }
    return out;
  }
}
