import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { verifyEct, verifyUnsignedEct, type EctClaims } from "../../protocols/index.ts";
import { StoredEctRecord, networkAudience, type Node } from "../../runtime/index.ts";
import { deriveOutcome, type DeriveOptions, type DerivedOutcome, type TokenSigner } from "./ect-outcomes.ts";

/** One message of the ECT stream as the trust actor sees it. */
export interface FeedEntry {
  readonly seq: number;
  /** The server's timestamp of the message (ms): when the record was stored, which no client can choose. */
  readonly storedAt: number;
  /** The record's jti, once its token verified (for replay memory). */
  readonly jti?: string;
  readonly derived?: DerivedOutcome;
  /** Why the record was refused (forged, wrong signer, stored long after it was minted). */
  readonly rejected?: string;
}

/** What the trust actor reads from its node (`ectFeed(node)` builds it). */
export interface EctFeed {
  /** Up to `limit` messages of the ECT stream after sequence `after`, in order, each verified. */
  read(after: number, limit: number): Promise<FeedEntry[]>;
}

export interface EctFeedOptions {
  readonly verifiers: readonly string[];
  readonly ignore: readonly string[];
  /** A record must be stored within this many ms of its token's `iat`; default the node's clock skew + 1 s. */
  readonly storeWindowMs?: number;
}

const decoder = new TextDecoder();

/**
 * Reads the ECT DAG store's KV stream (`KV_tether_<net>_ect`) with an ordered consumer from a
 * position, and believes only what each token proves: the signature is checked against the network's
 * key registry at the token's own `iat` (records are read after the fact), the signing key's role and
 * owner must fit the record (see `deriveOutcome`), the KV key must be `ect.<the token's jti>`, and the
 * server must have stored it within `storeWindowMs` of its `iat`: a genuine record written again later
 * (a replay) is refused, and one written again within the window is caught by the actor's jti memory.
 * Unsigned (L1) tokens count only when this node is relaxed.
 */
export const ectFeed = (node: Node, options: EctFeedOptions): EctFeed => {
  const network = node.network;
  const bucket = node.subjects.ectBucket();
  const stream = `KV_${bucket}`;
  const prefix = `$KV.${bucket}.ect.`;
  const skewSeconds = node.options.assurance.clockSkewSeconds;
  const windowMs = options.storeWindowMs ?? skewSeconds * 1000 + 1000;
  const derive: DeriveOptions = { network, verifiers: options.verifiers, ignore: new Set(options.ignore) };

  const verify = async (record: StoredEctRecord): Promise<{ claims: EctClaims; signer: TokenSigner | undefined }> => {
    const common = { audience: networkAudience(network), clockSkewSeconds: skewSeconds, now: () => record.iat * 1000, allowMissingParents: true };
    if (!record.token.includes(".")) {
      if (node.assurance.level !== "L1") throw new Error("unsigned token on a signed network");
      return { claims: (await verifyUnsignedEct(record.token, common)).claims, signer: undefined };
    }
    const v = await verifyEct(record.token, { ...common, keys: node.assurance.keys, offloadSignature: true });
    const key = await node.assurance.keys.lookup(v.header?.kid ?? "");
    if (typeof key !== "object") throw new Error("signing key unknown or revoked");
    return { claims: v.claims, signer: { role: key.role, owner: key.owner } };
  };

  const entryOf = async (m: JsMsg): Promise<FeedEntry> => {
    const seq = m.seq;
    const storedAt = Number(m.timestampNanos / 1_000_000n);
    if (!m.subject.startsWith(prefix) || m.data.length === 0) return { seq, storedAt };
    let record: StoredEctRecord;
    try {
      const parsed = StoredEctRecord.safeParse(JSON.parse(decoder.decode(m.data)));
      if (!parsed.success) return { seq, storedAt, rejected: "malformed ECT record" };
      record = parsed.data;
    } catch {
      return { seq, storedAt, rejected: "malformed ECT record" };
    }
    let verified;
    try {
      verified = await verify(record);
    } catch (error) {
      return { seq, storedAt, rejected: `token does not verify: ${error instanceof Error ? error.message.slice(0, 200) : "malformed"}` };
    }
    const { claims, signer } = verified;
    if (claims.jti !== record.jti || m.subject !== `${prefix}${claims.jti}`) return { seq, storedAt, rejected: "record stored under another jti than its token's" };
    if (Math.abs(storedAt - claims.iat * 1000) > windowMs) return { seq, storedAt, rejected: "record stored long after its token was minted (a replay)" };
    const derived = deriveOutcome(claims, signer, derive);
    if (typeof derived === "string") return { seq, storedAt, rejected: derived };
    return derived === undefined ? { seq, storedAt, jti: claims.jti } : { seq, storedAt, jti: claims.jti, derived };
  };

  /**
   * Messages after `after`, up to the stream's last sequence now (`last`), at most `limit`, each handed
   * to `each` as it arrives (so verification overlaps the next fetch); resolves with what `each` returned.
   */
  const fetch = async <T>(after: number, limit: number, each: (m: JsMsg) => Promise<T>): Promise<{ results: Promise<T>[]; last: number }> => {
    const jsm = await jetstreamManager(node.nats);
    const info = await jsm.streams.info(stream).catch(() => undefined);
    const last = info?.state.last_seq ?? 0;
    const results: Promise<T>[] = [];
    if (info === undefined || info.state.messages === 0 || last <= after) return { results, last };
    const consumer = await jetstream(node.nats).consumers.get(stream, { opt_start_seq: Math.max(after + 1, info.state.first_seq) });
    try {
      while (results.length < limit) {
        const batch = await consumer.fetch({ max_messages: Math.min(1_000, limit - results.length), expires: 2_000 });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got++;
          if (m.seq > last) {
            done = true;
            break;
          }
          results.push(each(m));
          if (m.seq >= last || m.info.pending === 0 || results.length >= limit) {
            done = true;
            break;
          }
        }
        batch.stop();
        if (done || got === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
    return { results, last };
  };

  return {
    read: async (after, limit) => {
      const { results, last } = await fetch(after, limit, (m) => entryOf(m).catch((): FeedEntry => ({ seq: m.seq, storedAt: 0, rejected: "unreadable record" })));
      // everything up to `last` is gone (expired or replaced): move past it instead of waiting on it again
      if (results.length === 0 && last > after) return [{ seq: last, storedAt: 0 }];
      // signatures are checked concurrently (on the thread pool), results kept in stream order
      return Promise.all(results);
    },
  };
};
