import { createPublicKey, type JsonWebKeyInput } from "node:crypto";
import { join } from "node:path";
import type { z } from "zod";
import {
  AuditMsg,
  type EctBody,
  TetherError,
  chainOwnRecord,
  checkpointRange,
  decodeEctUnverified,
  isTetherError,
  recordSealValid,
  receiptTokenHash,
  sealRecord,
  signCheckpoint,
  signReceipts,
  type ReceiptClaims,
  verifyEct,
  type AuditEntry,
  type AuditReceipt,
  type ChainedRecord,
  type KeyResolver,
  type LedgerRecord,
  type SigningKey,
} from "../../protocols/index.ts";
import { LedgerStream, loadOrCreateSigningKey, type LedgerAnchor, type ActorContext, type ActorLifecycleContext, type Clock, type Node } from "../../runtime/index.ts";
import { Actor } from "../actor.ts";

/** What the audit ledger actor needs, passed in (see `createAuditLedgerDeps`). */
export interface AuditLedgerDeps {
  readonly network: string;
  readonly stream: LedgerStream;
  /** The ledger's own key (role `audit`): it signs checkpoints, independent of workflow agents. */
  readonly signer: SigningKey;
  /** Verifies signed ECTs before they are appended. */
  readonly keys: KeyResolver;
  readonly clock: Clock;
  /** A signed checkpoint closes a batch every this many records (default 100)… */
  readonly checkpointEvery?: number;
  /** …or when an append arrives this long after the last checkpoint (default 5 s). */
  readonly checkpointIntervalMs?: number;
}

type AuditState = { last: LedgerRecord | undefined; batch: LedgerRecord[]; lastCheckpointAt: number };

/**
 * The network's tamper-evident audit ledger, as an actor (id `audit` by default). It appends ECTs and
 * security events as a hash chain to a JetStream stream and closes batches with checkpoints signed by
 * its own key (Merkle root over the batch): those are the receipts `tether audit verify` re-derives.
 * One message at a time, and single activation, keep the chain linear.
 */
export class AuditLedger extends Actor<AuditMsg, AuditState> {
  static override readonly protocol = AuditMsg;
  static override readonly capabilities = ["audit.ledger"];
  override state: AuditState = { last: undefined, batch: [], lastCheckpointAt: 0 };
  readonly #d: AuditLedgerDeps;

  constructor(deps: AuditLedgerDeps) {
    super();
    this.#d = deps;
  }

  override async onStart(_ctx: ActorLifecycleContext): Promise<void> {
    this.state.lastCheckpointAt = this.#d.clock.now();
    const foreign = await this.#resume();
    // records some client published while the ledger was stopped: not adopted, reported
    if (foreign.length > 0) await this.#reportForeign(foreign);
  }

  /** Resumes the chain from the stream: the last record, and the records since the last checkpoint. */
  async #resume(): Promise<number[]> {
    const every = this.#d.checkpointEvery ?? 100;
    const { records: tail, foreign } = await this.#d.stream.tail(every + 1);
    this.state.last = tail.at(-1);
    const lastCheckpoint = tail.findLastIndex((r) => r.kind === "checkpoint");
    // the next checkpoint covers the last one too, so checkpoints chain across restarts as well
    this.state.batch = lastCheckpoint < 0 ? tail : tail.slice(lastCheckpoint);
    return foreign;
  }

  /**
   * Stores chained records (one sealed message, or a few for a large append). When that fails part
   * of it may have landed (a large append, a lost acknowledgement): the chain is resumed from the
   * stream before the error is passed on, so the next append never reuses an index.
   */
  async #store(chained: readonly ChainedRecord[], anchors: readonly LedgerAnchor[] = []): Promise<{ foreign: number[] }> {
    try {
      return await this.#d.stream.append(chained.map((c) => c.record), { encoded: chained.map((c) => c.json), anchors });
    } catch (error) {
      await this.#resume().catch(() => undefined);
      throw error;
    }
  }

  /** Appends a violation naming the stream sequences of messages the ledger did not write. */
  async #reportForeign(sequences: readonly number[]): Promise<void> {
    const { record, json } = chainOwnRecord(this.state.last, {
      network: this.#d.network,
      kind: "event",
      body: { event: "violation", details: { reason: "foreign record on the ledger subject skipped", streamSequences: sequences.slice(0, 100), count: sequences.length } },
      at: this.#d.clock.now(),
    });
    const { foreign } = await this.#store([{ record, json }]);
    this.state.last = record;
    this.state.batch.push(record);
    if (foreign.length > 0) await this.#reportForeign(foreign);
  }

  override async onStop(_ctx: ActorLifecycleContext): Promise<void> {
    if (this.#uncovered()) await this.#checkpoint();
    await this.#d.stream.flush();
  }

  async handle(msg: AuditMsg, _ctx: ActorContext): Promise<{ receipts: AuditReceipt[] } | { checkpoint: number | null }> {
    switch (msg.type) {
      case "tether.audit.v1.append":
        return { receipts: await this.#append(msg.entries) };
      case "tether.audit.v1.checkpoint":
        return { checkpoint: this.#uncovered() ? (await this.#checkpoint()).index : null };
    }
  }

  /**
   * Chains the entries (a refused token becomes a violation event in its place), closes the batch
   * with a signed checkpoint when one is due, and stores all of it as one sealed message.
   */
  async #append(entries: readonly AuditEntry[]): Promise<AuditReceipt[]> {
    const now = this.#d.clock.now();
    const receipts: AuditReceipt[] = [];
    const chained: ChainedRecord[] = [];
    let last = this.state.last;
    const chain = (input: Parameters<typeof chainOwnRecord>[1]): ChainedRecord => {
      const c = chainOwnRecord(last, input);
      chained.push(c);
      last = c.record;
      return c;
    };
    // verify the batch's tokens concurrently; chain them in order afterwards
    const bodies = await Promise.all(
      entries.map((entry) => (entry.kind === "ect" ? this.#ectBody(entry.token, entry.level).then((body) => ({ body }), (error: unknown) => ({ error })) : undefined)),
    );
    for (const [i, entry] of entries.entries()) {
      let record: LedgerRecord;
      try {
        const verified = bodies[i];
        if (verified !== undefined && "error" in verified) throw verified.error;
        record = chain(
          entry.kind === "ect"
            ? { network: this.#d.network, kind: "ect", body: (verified as { body: z.input<typeof EctBody> }).body, at: now }
            : {
                network: this.#d.network,
                kind: "event",
                body: { event: entry.event, ...(entry.subject === undefined ? {} : { subject: entry.subject }), details: entry.details },
                at: now,
              },
        ).record;
      } catch (error) {
        const code = isTetherError(error) ? error.code : "ERR_AUDIT_RECORD_INVALID";
        const message = error instanceof Error ? error.message.slice(0, 1024) : String(error);
        receipts.push({ error: code, message });
        // a refused token is itself a security event
        chain({ network: this.#d.network, kind: "event", body: { event: "violation", details: { reason: "ledger refused a token", code, message: message.slice(0, 512) } }, at: now });
        continue;
      }
      receipts.push({ index: record.index, hash: record.hash });
    }
    const batch = [...this.state.batch, ...chained.map((c) => c.record)];
    const due = batch.length >= (this.#d.checkpointEvery ?? 100) || now - this.state.lastCheckpointAt >= (this.#d.checkpointIntervalMs ?? 5_000);
    // a due checkpoint travels in the same message as the records it closes
    const closing = due && last !== undefined ? await this.#closeBatch(batch, last, now) : undefined;
    if (closing !== undefined) chained.push(closing.chained);
    const { foreign } = await this.#store(chained, closing === undefined ? [] : [closing.anchor]);
    if (closing === undefined) {
      this.state.last = last;
      this.state.batch = batch;
    } else this.#closed(closing.chained.record, now);
    this.#signReceipts(bodies.map((b) => (b !== undefined && "body" in b ? b.body : undefined)), receipts, now);
    if (foreign.length > 0) await this.#reportForeign(foreign);
    return receipts;
  }

  /**
   * Once the records are stored: the ECTs' receipts are signed by the ledger key with one signature
   * for the whole append (`signReceipts`: a Merkle root over the receipts, and each receipt's path to
   * it), each naming the network, where its record landed and which token it records, so a receiver
   * verifies it instead of trusting its shape.
   */
  #signReceipts(ects: readonly (z.input<typeof EctBody> | undefined)[], receipts: AuditReceipt[], now: number): void {
    const signer = { key: this.#d.signer.privateKey, kid: this.#d.signer.kid, alg: this.#d.signer.alg };
    const iat = Math.floor(now / 1000);
    const signed: { at: number; claims: ReceiptClaims }[] = [];
    for (const [i, ect] of ects.entries()) {
      const r = receipts[i];
      if (ect === undefined || r === undefined || "error" in r) continue;
      signed.push({ at: i, claims: { net: this.#d.network, idx: r.index, hash: r.hash, jti: ect.jti, th: receiptTokenHash(ect.token), iat } });
    }
    const made = signReceipts(
      signed.map((s) => s.claims),
      signer,
    );
    for (const [k, { at }] of signed.entries()) {
      const r = receipts[at];
      const receipt = made[k];
      if (r !== undefined && !("error" in r) && receipt !== undefined) receipts[at] = { ...r, receipt };
    }
  }

  async #ectBody(token: string, level: "L1" | "L2" | "L3"): Promise<z.input<typeof EctBody>> {
    const signed = token.includes(".");
    // the ledger appends only tokens it can verify itself (parents and replay are the receivers' checks)
    const claims = signed
      ? (await verifyEct(token, { keys: this.#d.keys, allowMissingParents: true, now: () => this.#d.clock.now() })).claims
      : decodeEctUnverified(token).claims;
    if (!signed && level !== "L1") throw new TetherError("ERR_ECT_LEVEL_TOO_LOW", `an unsigned token cannot be recorded as ${level}`);
    const c = claims as Record<string, unknown>;
    const par = (c["par"] ?? c["pred"]) as string[];
    const ext = (c["ext"] ?? c["ect_ext"]) as Record<string, unknown> | undefined;
    return {
      token,
      jti: String(c["jti"]),
      ...(typeof c["wid"] === "string" ? { wid: c["wid"] } : {}),
      iss: String(c["iss"]),
      exec_act: String(c["exec_act"]),
      par,
      iat: Number(c["iat"]),
      level,
      ...(ext === undefined ? {} : { ext }),
    };
  }

  /** True when records since the last checkpoint (other than that checkpoint itself) await one. */
  #uncovered(): boolean {
    const [first] = this.state.batch;
    return first !== undefined && (this.state.batch.length > 1 || first.kind !== "checkpoint");
  }

  /** Closes the current batch with a checkpoint now, in a message of its own. */
  async #checkpoint(): Promise<LedgerRecord> {
    const prev = this.state.last;
    if (this.state.batch.length === 0 || prev === undefined) throw new TetherError("ERR_AUDIT_RECORD_INVALID", "nothing to checkpoint");
    const at = this.#d.clock.now();
    const { chained, anchor } = await this.#closeBatch(this.state.batch, prev, at);
    const { foreign } = await this.#store([chained], [anchor]);
    this.#closed(chained.record, at);
    if (foreign.length > 0) await this.#reportForeign(foreign);
    await this.#d.stream.flush(); // asked for a checkpoint: its anchor is out when the answer is
    return chained.record;
  }

  /**
   * The checkpoint record closing `batch` (the records since the last checkpoint, that one
   * included, ending with `prev`), signed by the ledger key, and its anchor: stored outside the
   * ledger stream, a truncated or deleted ledger is caught against it.
   */
  async #closeBatch(batch: readonly LedgerRecord[], prev: LedgerRecord, at: number): Promise<{ chained: ChainedRecord; anchor: LedgerAnchor }> {
    const first = batch[0];
    if (first === undefined) throw new TetherError("ERR_AUDIT_RECORD_INVALID", "nothing to checkpoint");
    const range = checkpointRange(batch, first.index, prev.index);
    const signature = await signCheckpoint(
      { network: this.#d.network, ...range, iat: Math.floor(at / 1000) },
      { key: this.#d.signer.privateKey, kid: this.#d.signer.kid, alg: this.#d.signer.alg },
    );
    const chained = chainOwnRecord(prev, { network: this.#d.network, kind: "checkpoint", body: { ...range, signature }, at });
    return { chained, anchor: { kind: "checkpoint", network: this.#d.network, index: chained.record.index, hash: chained.record.hash, signature } };
  }

  /** State after a checkpoint was stored: the next checkpoint covers this one too, so checkpoints chain. */
  #closed(checkpoint: LedgerRecord, at: number): void {
    this.state.last = checkpoint;
    this.state.batch = [checkpoint];
    this.state.lastCheckpointAt = at;
  }
}

export interface AuditLedgerDepsOptions {
  /** Directory of the ledger's private key (file `<keyDir>/<network>/audit-<actorId>.jwk.json`). */
  readonly keyDir?: string;
  readonly actorId?: string;
  readonly checkpointEvery?: number;
  readonly checkpointIntervalMs?: number;
  /** Allow deleting stream messages (only for tamper tests). Default false. */
  readonly allowDelete?: boolean;
}

/**
 * Assembles an audit ledger on a node: opens the stream, loads or creates the ledger's own key and
 * publishes it in the key registry with role `audit`.
 */
export const createAuditLedgerDeps = async (node: Node, options: AuditLedgerDepsOptions = {}): Promise<AuditLedgerDeps> => {
  const actorId = options.actorId ?? "audit";
  const keyDir = options.keyDir ?? node.options.assurance.keyDir;
  const { key } = await loadOrCreateSigningKey(join(keyDir, node.network, `audit-${actorId}.jwk.json`), "ES256");
  const signer = { key: key.privateKey, kid: key.kid, alg: key.alg as "ES256" };
  const own = { key: createPublicKey({ key: key.publicJwk as unknown as JsonWebKeyInput["key"], format: "jwk" }), alg: "ES256" };
  const stream = await LedgerStream.open(node.nats, node.subjects, {
    replicas: node.options.jetstreamReplicas,
    denyDelete: options.allowDelete !== true,
    seal: (hash) => sealRecord(hash, signer),
    // on restart the ledger adopts only records sealed by its own key
    authenticate: (seal, hash) => recordSealValid(seal, hash, async (kid) => (kid === key.kid ? own : undefined)),
  });
  const existing = await node.assurance.keys.get(key.kid);
  if (existing?.status === "revoked") throw new TetherError("ERR_ECT_KEY_REVOKED", `the ledger key ${key.kid} was revoked`);
  if (existing === undefined) await node.assurance.keys.publish(key, "audit", actorId);
  return {
    network: node.network,
    stream,
    signer: key,
    keys: node.assurance.keys,
    clock: node.clock,
    ...(options.checkpointEvery === undefined ? {} : { checkpointEvery: options.checkpointEvery }),
    ...(options.checkpointIntervalMs === undefined ? {} : { checkpointIntervalMs: options.checkpointIntervalMs }),
  };
};
