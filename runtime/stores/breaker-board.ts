import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { BreakerSnapshot, TetherError, type NetworkSubjects } from "../../protocols/index.ts";
import { ensureKvBucket } from "./jetstream-provisioning.ts";

const encoder = new TextEncoder();

const parse = (text: string): BreakerSnapshot | undefined => {
  try {
    const parsed = BreakerSnapshot.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/**
 * The network's shared circuit-breaker states (JetStream KV `tether_<net>_breakers`, key `b.<target>`,
 * JSON `BreakerSnapshot`s): the port through which supervisors share breakers and quarantines, so they
 * never open buckets on the node's connection themselves. Unreadable values read as absent.
 */
export class BreakerBoard {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: { replicas: number; maxBytes?: number }): Promise<BreakerBoard> {
    try {
      return new BreakerBoard(await ensureKvBucket(nc, subjects.breakersBucket(), { history: 1, replicas: options.replicas, ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes }) }));
    } catch (cause) {
      throw new TetherError("ERR_STORE_UNAVAILABLE", `cannot open the breaker bucket ${subjects.breakersBucket()}: ${String(cause)}`, { cause });
    }
  }

  /** The cluster's current view of `target`'s breaker, if any (an unreadable value is none). */
  async get(target: string): Promise<BreakerSnapshot | undefined> {
    const entry = await this.#kv.get(`b.${target}`).catch(() => null);
    return entry === null || entry.operation !== "PUT" ? undefined : parse(entry.string());
  }

  /** Publishes a breaker state for every node to adopt. */
  async put(target: string, snapshot: BreakerSnapshot): Promise<void> {
    await this.#kv.put(`b.${target}`, encoder.encode(JSON.stringify(snapshot)));
  }

  /** Calls `listener` with every valid state written from now on; returns a function that stops watching. */
  async watch(listener: (target: string, snapshot: BreakerSnapshot) => void): Promise<() => void> {
    const watcher = await this.#kv.watch({ key: "b.>" });
    void (async () => {
      for await (const entry of watcher) {
        if (entry.operation !== "PUT") continue;
        const snapshot = parse(entry.string());
        if (snapshot === undefined) continue;
        try {
          listener(entry.key.slice(2), snapshot);
        } catch {
          /* a listener's failure does not stop the watch */
        }
      }
    })();
    return () => watcher.stop();
  }
}
