import type { NatsConnection } from "@nats-io/transport-node";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { RECORD_SEAL_HEADER, TetherError, canonicalJson, safeParseRecord, type LedgerRecord, type NetworkSubjects } from "../../protocols/index.ts";
import { ensureStream } from "./jetstream-provisioning.ts";

export interface LedgerStreamOptions {
  readonly replicas: number;
  /** Refuse message deletes and purges at the JetStream level (default true; tests of tampering turn it off). */
  readonly denyDelete?: boolean;
  /** Seals each record the ledger writes (the ledger key's signature over its hash). */
  readonly seal?: (hash: string) => Promise<string>;
  /** True when a stored record carries a valid seal: only those are adopted on restart. */
  readonly authenticate?: (seal: string | undefined, hash: string) => Promise<boolean>;
}

/**
 * An anchor, kept outside the ledger stream: the latest signed checkpoint (`signature` is its
 * compact JWS), or the latest record written (`head`: `signature` is that record's seal), so that
 * truncating records after the last checkpoint is caught too.
 */
export interface LedgerAnchor {
  readonly kind: "checkpoint" | "head";
  readonly network: string;
  readonly index: number;
  readonly hash: string;
  /** The checkpoint's compact JWS (the ledger key's signature). */
  readonly signature: string;
}

/** Reading options: with `authenticate`, records without a valid seal are skipped and reported. */
export interface LedgerReadOptions {
  readonly authenticate?: (seal: string | undefined, hash: string) => Promise<boolean>;
  /** Called with the stream sequence of each skipped (foreign) message. */
  readonly onForeign?: (seq: number, why: string) => void;
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
  readonly #subjects: NetworkSubjects;
  readonly #options: LedgerStreamOptions;
  #lastSeq = 0;

  private constructor(js: JetStreamClient, jsm: JetStreamManager, subjects: NetworkSubjects, options: LedgerStreamOptions) {
    this.#js = js;
    this.#jsm = jsm;
    this.name = subjects.auditStream();
    this.#subject = subjects.audit();
    this.#subjects = subjects;
    this.#options = options;
  }

  /** The anchor stream: delete, purge and rollups are refused by JetStream (account permissions come with NATS accounts). */
  static #openAnchors(nc: NatsConnection, subjects: NetworkSubjects, replicas: number) {
    return ensureStream(nc, {
      name: subjects.auditAnchorStream(),
      subjects: [subjects.auditAnchorAll()],
      num_replicas: replicas,
      storage: StorageType.File,
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
      max_msgs: 100_000,
    });
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
    await LedgerStream.#openAnchors(nc, subjects, options.replicas);
    const stream = new LedgerStream(jetstream(nc), await jetstreamManager(nc), subjects, options);
    stream.#lastSeq = info.state.last_seq;
    return stream;
  }

  /** The stored message at `seq` as a record, if it is one the ledger wrote (sealed), else why not. */
  async #genuineAt(seq: number): Promise<{ record: LedgerRecord } | { foreign: string } | undefined> {
    const m = await this.#jsm.streams.getMessage(this.name, { seq }).catch(() => null);
    if (m === null) return undefined;
    return genuine(m.data, m.header, this.#options.authenticate);
  }

  /**
   * The last `n` genuine records (chain order), for resuming after a restart, and the stream
   * sequences of the foreign messages met on the way (not adopted: they do not carry a valid seal).
   */
  async tail(n: number): Promise<{ records: LedgerRecord[]; foreign: number[] }> {
    const info = await this.#jsm.streams.info(this.name);
    this.#lastSeq = info.state.last_seq;
    const out: LedgerRecord[] = [];
    const foreign: number[] = [];
    for (let seq = info.state.last_seq; seq >= info.state.first_seq && seq > 0 && out.length < n; seq--) {
      const g = await this.#genuineAt(seq);
      if (g === undefined) continue;
      if ("foreign" in g) foreign.unshift(seq);
      else out.unshift(g.record);
    }
    return { records: out, foreign };
  }

  /**
   * Appends records in order; resolves when all are stored, with the stream sequences of foreign
   * messages that some client published in between (the appends' expected-sequence check caught
   * them). Those are skipped, never chained onto: the records are published again after them.
   */
  async append(records: readonly LedgerRecord[]): Promise<{ foreign: number[] }> {
    const sealed = await Promise.all(records.map(async (record) => ({ record, seal: this.#options.seal === undefined ? undefined : await this.#options.seal(record.hash) })));
    const foreign: number[] = [];
    let pending = sealed;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const start = this.#lastSeq;
      const results = await Promise.allSettled(pending.map(({ record, seal }, i) => {
        const h = natsHeaders();
        if (seal !== undefined) h.set(RECORD_SEAL_HEADER, seal);
        return this.#js.publish(this.#subject, encoder.encode(canonicalJson(record)), {
          expect: { lastSequence: start + i },
          msgID: `${record.network}-${record.index}`,
          headers: h,
        });
      }));
      const stored = results.findIndex((r) => r.status === "rejected");
      if (stored === -1) {
        this.#lastSeq = start + pending.length;
        break;
      }
      const failed = results[stored] as PromiseRejectedResult;
      const last = (await this.#jsm.streams.info(this.name)).state.last_seq;
      if (attempt >= 3 || last === start + stored) {
        this.#lastSeq = last;
        throw new TetherError("ERR_LEDGER_UNAVAILABLE", `ledger append failed: ${String(failed.reason)}`, { cause: failed.reason });
      }
      // messages after ours that we did not write: foreign (a duplicate msgID of ours is deduplicated, not stored)
      const mine = new Set(pending.slice(0, stored).map((p) => p.record.hash));
      const left = pending.slice(stored);
      for (let seq = start + stored + 1; seq <= last; seq++) {
        const g = await this.#genuineAt(seq);
        if (g !== undefined && "record" in g && left.some((p) => p.record.hash === g.record.hash)) {
          left.splice(left.findIndex((p) => p.record.hash === g.record.hash), 1);
          continue;
        }
        if (g !== undefined && "record" in g && mine.has(g.record.hash)) continue;
        foreign.push(seq);
      }
      this.#lastSeq = last;
      pending = left;
    }
    const head = sealed.at(-1);
    if (head?.seal !== undefined) {
      await this.anchor({ kind: "head", network: head.record.network, index: head.record.index, hash: head.record.hash, signature: head.seal });
    }
    return { foreign };
  }

  /** Stores the latest signed checkpoint in the anchor stream (outside the ledger stream). */
  async anchor(anchor: LedgerAnchor): Promise<void> {
    await this.#js.publish(this.#subjects.auditAnchor(anchor.kind), encoder.encode(JSON.stringify(anchor)));
  }

  /** The latest anchor of a network of this kind, if any (unauthenticated: check its signature). */
  static async latestAnchor(nc: NatsConnection, subjects: NetworkSubjects, kind: LedgerAnchor["kind"] = "checkpoint"): Promise<LedgerAnchor | undefined> {
    const jsm = await jetstreamManager(nc);
    const m = await jsm.streams.getMessage(subjects.auditAnchorStream(), { last_by_subj: subjects.auditAnchor(kind) }).catch(() => null);
    if (m === null) return undefined;
    try {
      return JSON.parse(decoder.decode(m.data)) as LedgerAnchor;
    } catch {
      return undefined;
    }
  }

  /** Every stored record as raw JSON values, in stream order (verification parses them itself). */
  static async readAll(nc: NatsConnection, subjects: NetworkSubjects, options: LedgerReadOptions = {}): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const record of (await LedgerStream.read(nc, subjects, options)).records) out.push(record);
    return out;
  }

  /**
   * The stored records as raw JSON values, in stream order, read in batches of 1,000 as they are
   * consumed (memory does not grow with the ledger). `total` is how many are stored when the read
   * begins; records appended later are not read.
   */
  static async read(nc: NatsConnection, subjects: NetworkSubjects, options: LedgerReadOptions = {}): Promise<{ total: number; records: AsyncIterable<unknown> }> {
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
          if (options.authenticate !== undefined) {
            const g = await genuine(m.data, m.headers, options.authenticate);
            if ("foreign" in g) {
              options.onForeign?.(m.seq, g.foreign);
              continue;
            }
          }
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

/** A stored message as a genuine record, or why it is foreign (unparseable, or no valid seal). */
const genuine = async (
  data: Uint8Array,
  header: MsgHdrs | undefined,
  authenticate: LedgerStreamOptions["authenticate"],
): Promise<{ record: LedgerRecord } | { foreign: string }> => {
  let record: LedgerRecord | undefined;
  try {
    record = safeParseRecord(JSON.parse(decoder.decode(data)));
  } catch {
    record = undefined;
  }
  if (record === undefined) return { foreign: "not a ledger record" };
  if (authenticate !== undefined && !(await authenticate(header?.get(RECORD_SEAL_HEADER) || undefined, record.hash))) {
    return { foreign: "no valid ledger seal" };
  }
  return { record };
};
