import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { TetherError, canonicalJson, parseRecord, type LedgerRecord, type NetworkSubjects } from "../../protocols/index.ts";
import { ensureStream } from "./jetstream-provisioning.ts";

export interface LedgerStreamOptions {
  readonly replicas: number;
  /** Refuse message deletes and purges at the JetStream level (default true; tests of tampering turn it off). */
  readonly denyDelete?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The audit ledger's storage: one JetStream stream per network (`TETHER_<net>_AUDIT`), records in
 * chain order, each stored as its RFC 8785 canonical JSON. Appends are pipelined with an expected
 * last sequence, so a record can only land directly after the one the writer chained it to.
 */
export class LedgerStream {
  readonly name: string;
  readonly #subject: string;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  #lastSeq = 0;

  private constructor(js: JetStreamClient, jsm: JetStreamManager, subjects: NetworkSubjects) {
    this.#js = js;
    this.#jsm = jsm;
    this.name = subjects.auditStream();
    this.#subject = subjects.audit();
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: LedgerStreamOptions): Promise<LedgerStream> {
    const info = await ensureStream(nc, {
      name: subjects.auditStream(),
      subjects: [subjects.audit()],
      num_replicas: options.replicas,
      storage: StorageType.File,
      deny_delete: options.denyDelete ?? true,
      deny_purge: options.denyDelete ?? true,
    });
    const stream = new LedgerStream(jetstream(nc), await jetstreamManager(nc), subjects);
    stream.#lastSeq = info.state.last_seq;
    return stream;
  }

  /** The last `n` records (chain order), for resuming after a restart. */
  async tail(n: number): Promise<LedgerRecord[]> {
    const info = await this.#jsm.streams.info(this.name);
    this.#lastSeq = info.state.last_seq;
    const out: LedgerRecord[] = [];
    for (let seq = info.state.last_seq; seq >= info.state.first_seq && seq > 0 && out.length < n; seq--) {
      const m = await this.#jsm.streams.getMessage(this.name, { seq }).catch(() => null);
      if (m !== null) out.unshift(parseRecord(JSON.parse(decoder.decode(m.data))));
    }
    return out;
  }

  /** Appends records in order; resolves when all are stored. */
  async append(records: readonly LedgerRecord[]): Promise<void> {
    const acks = records.map((record) => {
      const expected = this.#lastSeq;
      this.#lastSeq++;
      return this.#js.publish(this.#subject, encoder.encode(canonicalJson(record)), {
        expect: { lastSequence: expected },
        msgID: `${record.network}-${record.index}`,
      });
    });
    const results = await Promise.allSettled(acks);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) {
      this.#lastSeq = (await this.#jsm.streams.info(this.name)).state.last_seq;
      throw new TetherError("ERR_LEDGER_UNAVAILABLE", `ledger append failed: ${String((failed as PromiseRejectedResult).reason)}`, {
        cause: (failed as PromiseRejectedResult).reason,
      });
    }
  }

  /** Every stored record as raw JSON values, in stream order (verification parses them itself). */
  static async readAll(nc: NatsConnection, subjects: NetworkSubjects): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const record of (await LedgerStream.read(nc, subjects)).records) out.push(record);
    return out;
  }

  /**
   * The stored records as raw JSON values, in stream order, read in batches of 1,000 as they are
   * consumed (memory does not grow with the ledger). `total` is how many are stored when the read
   * begins; records appended later are not read.
   */
  static async read(nc: NatsConnection, subjects: NetworkSubjects): Promise<{ total: number; records: AsyncIterable<unknown> }> {
    const jsm = await jetstreamManager(nc);
    const name = subjects.auditStream();
    const info = await jsm.streams.info(name).catch(() => undefined);
    const total = info?.state.messages ?? 0;
    async function* records(): AsyncGenerator<unknown> {
      if (total === 0) return;
      const consumer = await jetstream(nc).consumers.get(name, { deliver_policy: DeliverPolicy.All });
      let seen = 0;
      while (seen < total) {
        const batch = await consumer.fetch({ max_messages: Math.min(1_000, total - seen), expires: 5_000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          seen++;
          const text = decoder.decode(m.data);
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch {
            value = text; // not JSON: verification reports it where it stands
          }
          yield value;
        }
        if (got === 0) return; // nothing more arrived within `expires`
      }
    }
    return { total, records: records() };
  }
}
