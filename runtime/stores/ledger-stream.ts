import type { NatsConnection } from "@nats-io/transport-node";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import {
  RECORD_SEAL_HEADER,
  TetherError,
  canonicalJson,
  chainedMessageRecords,
  encodeLedgerBatch,
  ledgerMessageRecords,
  type LedgerRecord,
  type NetworkSubjects,
} from "../../protocols/index.ts";
import { ensureStream } from "./jetstream-provisioning.ts";
import { fetchStream } from "./stream-fetch.ts";

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

/** What `LedgerStream.append` may be given besides the records. */
export interface LedgerAppendOptions {
  /** Each record's canonical JSON, when the writer has it already (`chainOwnRecord`); else computed. */
  readonly encoded?: readonly string[];
  /** Anchors to publish once the records are stored (with the head anchor, concurrently). */
  readonly anchors?: readonly LedgerAnchor[];
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
 * chain order, each as its RFC 8785 canonical JSON, several to a message (format 2: one message
 * per append, sealed once; format 1 ledgers, one record per message, are still read). Appends
 * carry an expected last sequence, so a message can only land directly after the one before it.
 */
export class LedgerStream {
  readonly name: string;
  readonly #subject: string;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #subjects: NetworkSubjects;
  readonly #options: LedgerStreamOptions;
  readonly #nc: NatsConnection;
  #lastSeq = 0;
  #anchoring: Promise<void> = Promise.resolve();

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, subjects: NetworkSubjects, options: LedgerStreamOptions) {
    this.#nc = nc;
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
    const stream = new LedgerStream(nc, jetstream(nc), await jetstreamManager(nc), subjects, options);
    stream.#lastSeq = info.state.last_seq;
    return stream;
  }

  /** The stored message at `seq` as the records it holds, if the ledger wrote it (sealed), else why not. */
  async #genuineAt(seq: number): Promise<{ records: LedgerRecord[] } | { foreign: string } | undefined> {
    const m = await this.#jsm.streams.getMessage(this.name, { seq }).catch(() => null);
    if (m === null) return undefined;
    return genuine(m.data, m.header, this.#options.authenticate);
  }

  /**
   * The last `n` genuine records or more (chain order; whole messages are read), for resuming after
   * a restart, and the stream sequences of the foreign messages met on the way (not adopted: they
   * do not carry a valid seal).
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
      else out.unshift(...g.records);
    }
    return { records: out, foreign };
  }

  /**
   * Appends records (consecutive in the chain, continuing the stored ones) in order, as one message
   * (format 2, see `encodeLedgerBatch`) or a few when they exceed the server's payload limit, each
   * sealed once over its last record's hash. Messages are published one at a time with an expected
   * last sequence, so a message can only land directly after the one before it. Resolves when all
   * are stored; the head anchor and `options.anchors` are then published in the background, in
   * order (`flush` waits for them); the result names the stream
   * sequences of foreign messages some client published in between. Those are skipped, never
   * chained onto: the message is published again after them.
   */
  async append(records: readonly LedgerRecord[], options: LedgerAppendOptions = {}): Promise<{ foreign: number[] }> {
    const jsons = options.encoded ?? records.map((r) => canonicalJson(r));
    const messages = batchMessages(records, jsons, this.#maxPayload());
    const sealed = await Promise.all(messages.map(async (m) => ({ ...m, seal: this.#options.seal === undefined ? undefined : await this.#options.seal(m.last.hash) })));
    const foreign: number[] = [];
    for (const message of sealed) await this.#publish(message, foreign);
    const head = sealed.at(-1);
    const anchors = [...(head?.seal === undefined ? [] : [{ kind: "head" as const, network: head.last.network, index: head.last.index, hash: head.last.hash, signature: head.seal }]), ...(options.anchors ?? [])];
    // anchors follow in the background (the caller's receipts need not wait a second round trip),
    // one append's after the previous one's, so the latest anchor is never older than one append
    const previous = this.#anchoring;
    this.#anchoring = previous.then(() => Promise.all(anchors.map((a) => this.anchor(a)))).then(
      () => undefined,
      () => undefined, // a lost anchor is superseded by the next append's
    );
    return { foreign };
  }

  /** Resolves when the anchors of every append so far are published (or failed): call before closing. */
  async flush(): Promise<void> {
    await this.#anchoring;
  }

  #maxPayload(): number {
    // at most 1 MiB, so that a reader's fetch of 8 MiB always holds a whole message
    return Math.max(64 * 1024, Math.min(this.#nc.info?.max_payload ?? 1024 * 1024, 1024 * 1024) - 16 * 1024);
  }

  /** Publishes one message right after the last stored one, skipping (and collecting) foreign messages. */
  async #publish(message: SealedMessage, foreign: number[]): Promise<void> {
    const h = natsHeaders();
    if (message.seal !== undefined) h.set(RECORD_SEAL_HEADER, message.seal);
    for (let attempt = 0; ; attempt++) {
      const start = this.#lastSeq;
      try {
        const ack = await this.#js.publish(this.#subject, message.data, { expect: { lastSequence: start }, msgID: message.id, headers: h });
        this.#lastSeq = ack.duplicate ? start : ack.seq;
        return;
      } catch (error) {
        const last = (await this.#jsm.streams.info(this.name)).state.last_seq;
        if (attempt >= 3 || last === start) {
          this.#lastSeq = last;
          throw new TetherError("ERR_LEDGER_UNAVAILABLE", `ledger append failed: ${String(error)}`, { cause: error });
        }
        // messages after ours that we did not write: foreign (ours may be among them when only its ack was lost)
        let stored = false;
        for (let seq = start + 1; seq <= last; seq++) {
          const g = await this.#genuineAt(seq);
          if (g !== undefined && "records" in g && g.records.at(-1)?.hash === message.last.hash) stored = true;
          else foreign.push(seq);
        }
        this.#lastSeq = last;
        if (stored) return;
      }
    }
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

  /** Every stored record as raw JSON values, in chain order (a message's records in turn) (verification parses them itself). */
  static async readAll(nc: NatsConnection, subjects: NetworkSubjects, options: LedgerReadOptions = {}): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const record of (await LedgerStream.read(nc, subjects, options)).records) out.push(record);
    return out;
  }

  /**
   * The stored records as raw JSON values, in chain order (a message's records in turn), read in
   * fetches of about 8 MiB as they are consumed (memory does not grow with the
   * ledger). Messages stored after the read begins are not read. `total` is how many records the
   * ledger holds by its last message's last index (a progress hint; undefined when that message is
   * not the ledger's own, with `authenticate`, or does not parse).
   */
  static async read(nc: NatsConnection, subjects: NetworkSubjects, options: LedgerReadOptions = {}): Promise<{ total?: number; records: AsyncIterable<unknown> }> {
    const jsm = await jetstreamManager(nc);
    const name = subjects.auditStream();
    const info = await jsm.streams.info(name).catch(() => undefined);
    const messages = info?.state.messages ?? 0;
    const last = messages === 0 ? null : await jsm.streams.getMessage(name, { seq: info?.state.last_seq ?? 0 }).catch(() => null);
    const head = last === null ? undefined : await genuine(last.data, last.header, options.authenticate);
    const total = messages === 0 ? 0 : head !== undefined && "records" in head ? (head.records.at(-1)?.index ?? -1) + 1 : undefined;
    async function* records(): AsyncGenerator<unknown> {
      if (messages === 0) return;
      // about 8 MiB per fetch by the stream's mean message size (a message holds up to 1 MiB of records)
      const perFetch = Math.max(1, Math.min(1_000, Math.floor((8 * 1024 * 1024) / Math.max(1, (info?.state.bytes ?? 0) / messages))));
      for await (const m of fetchStream(nc, name, { count: messages, perFetch })) {
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
        yield* ledgerMessageRecords(value);
      }
    }
    return { ...(total === undefined ? {} : { total }), records: records() };
  }
}

/**
 * A stored message as the genuine records it holds, or why it is foreign: it does not parse, its
 * records are not sound and consecutive, or it carries no valid seal over its last record's hash.
 */
const genuine = async (
  data: Uint8Array,
  header: MsgHdrs | undefined,
  authenticate: LedgerStreamOptions["authenticate"],
): Promise<{ records: LedgerRecord[] } | { foreign: string }> => {
  let records: LedgerRecord[] | undefined;
  try {
    records = chainedMessageRecords(JSON.parse(decoder.decode(data)));
  } catch {
    records = undefined;
  }
  const last = records?.at(-1);
  if (records === undefined || last === undefined) return { foreign: "not a ledger record" };
  if (authenticate !== undefined && !(await authenticate(header?.get(RECORD_SEAL_HEADER) || undefined, last.hash))) {
    return { foreign: "no valid ledger seal" };
  }
  return { records };
};

interface SealedMessage {
  readonly data: Uint8Array;
  readonly id: string;
  readonly last: LedgerRecord;
  readonly seal: string | undefined;
}

/** Records cut into messages of at most `maxBytes` (a record larger than that travels alone). */
const batchMessages = (records: readonly LedgerRecord[], jsons: readonly string[], maxBytes: number): Omit<SealedMessage, "seal">[] => {
  const out: Omit<SealedMessage, "seal">[] = [];
  let from = 0;
  let bytes = 0;
  const cut = (to: number) => {
    const first = records[from];
    const last = records[to - 1];
    if (first === undefined || last === undefined) return;
    out.push({ data: encoder.encode(encodeLedgerBatch(jsons.slice(from, to))), id: `${last.network}-${first.index}-${last.index}`, last });
    from = to;
    bytes = 0;
  };
  for (let i = 0; i < records.length; i++) {
    const size = Buffer.byteLength(jsons[i] ?? "", "utf8") + 1;
    if (i > from && bytes + size > maxBytes) cut(i);
    bytes += size;
  }
  cut(records.length);
  return out;
};
