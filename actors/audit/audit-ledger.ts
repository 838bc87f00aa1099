import { createPublicKey, type JsonWebKeyInput } from "node:crypto";
import { join } from "node:path";
import type { z } from "zod";
import {
  AuditMsg,
  type EctBody,
  TetherError,
  appendRecord,
  checkpointRange,
  decodeEctUnverified,
  isTetherError,
  recordSealValid,
  receiptTokenHash,
  sealRecord,
  signCheckpoint,
  signReceipt,
  verifyEct,
  type AuditEntry,
  type AuditReceipt,
  type KeyResolver,
  type LedgerRecord,
  type SigningKey,
} from "../../protocols/index.ts";
import { LedgerStream, loadOrCreateSigningKey, type ActorContext, type ActorLifecycleContext, type Clock, type Node } from "../../runtime/index.ts";
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

/** Records this actor chained itself (or parsed from the stream at start) need no re-validation. */
const TRUSTED = { trustedPrev: true } as const;

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
    // resume the chain: the last record, and the records since the last checkpoint
    const every = this.#d.checkpointEvery ?? 100;
    const { records: tail, foreign } = await this.#d.stream.tail(every + 1);
    this.state.last = tail.at(-1);
    const lastCheckpoint = tail.findLastIndex((r) => r.kind === "checkpoint");
    this.state.batch = tail.slice(lastCheckpoint + 1);
    this.state.lastCheckpointAt = this.#d.clock.now();
    // records some client published while the ledger was stopped: not adopted, reported
    if (foreign.length > 0) await this.#reportForeign(foreign);
  }

  /** Appends a violation naming the stream sequences of messages the ledger did not write. */
  async #reportForeign(sequences: readonly number[]): Promise<void> {
    const record = appendRecord(this.state.last, {
      network: this.#d.network,
      kind: "event",
      body: { event: "violation", details: { reason: "foreign record on the ledger subject skipped", streamSequences: sequences.slice(0, 100), count: sequences.length } },
      at: this.#d.clock.now(),
    }, TRUSTED);
    const { foreign } = await this.#d.stream.append([record]);
    this.state.last = record;
    this.state.batch.push(record);
    if (foreign.length > 0) await this.#reportForeign(foreign);
  }

  override async onStop(_ctx: ActorLifecycleContext): Promise<void> {
    if (this.state.batch.length > 0) await this.#checkpoint();
  }

  async handle(msg: AuditMsg, _ctx: ActorContext): Promise<{ receipts: AuditReceipt[] } | { checkpoint: number | null }> {
    switch (msg.type) {
      case "tether.audit.v1.append":
        return { receipts: await this.#append(msg.entries) };
      case "tether.audit.v1.checkpoint":
        return { checkpoint: this.state.batch.length === 0 ? null : (await this.#checkpoint()).index };
    }
  }

  async #append(entries: readonly AuditEntry[]): Promise<AuditReceipt[]> {
    const now = this.#d.clock.now();
    const receipts: AuditReceipt[] = [];
    const records: LedgerRecord[] = [];
    let last = this.state.last;
    // verify the batch's tokens concurrently; chain them in order afterwards
    const bodies = await Promise.all(
      entries.map((entry) => (entry.kind === "ect" ? this.#ectBody(entry.token, entry.level).then((body) => ({ body }), (error: unknown) => ({ error })) : undefined)),
    );
    for (const [i, entry] of entries.entries()) {
      let record: LedgerRecord;
      try {
        const verified = bodies[i];
        if (verified !== undefined && "error" in verified) throw verified.error;
        record =
          entry.kind === "ect"
            ? appendRecord(last, { network: this.#d.network, kind: "ect", body: (verified as { body: z.input<typeof EctBody> }).body, at: now }, TRUSTED)
            : appendRecord(last, {
                network: this.#d.network,
                kind: "event",
                body: { event: entry.event, ...(entry.subject === undefined ? {} : { subject: entry.subject }), details: entry.details },
                at: now,
              }, TRUSTED);
      } catch (error) {
        const code = isTetherError(error) ? error.code : "ERR_AUDIT_RECORD_INVALID";
        const message = error instanceof Error ? error.message.slice(0, 1024) : String(error);
        receipts.push({ error: code, message });
        // a refused token is itself a security event
        record = appendRecord(last, { network: this.#d.network, kind: "event", body: { event: "violation", details: { reason: "ledger refused a token", code, message: message.slice(0, 512) } }, at: now }, TRUSTED);
        records.push(record);
        last = record;
        continue;
      }
      records.push(record);
      receipts.push({ index: record.index, hash: record.hash });
      last = record;
    }
    const { foreign } = await this.#d.stream.append(records);
    this.state.last = last;
    this.state.batch.push(...records);
    this.#signReceipts(bodies.map((b) => (b !== undefined && "body" in b ? b.body : undefined)), receipts, now);
    if (foreign.length > 0) await this.#reportForeign(foreign);
    const due = this.state.batch.length >= (this.#d.checkpointEvery ?? 100) || now - this.state.lastCheckpointAt >= (this.#d.checkpointIntervalMs ?? 5_000);
    if (due) await this.#checkpoint();
    return receipts;
  }

  /**
   * Once the records are stored: each ECT's receipt is signed by the ledger key over the network,
   * where the record landed and which token it records (`signReceipt`), so a receiver verifies it
   * instead of trusting its shape.
   */
  #signReceipts(ects: readonly (z.input<typeof EctBody> | undefined)[], receipts: AuditReceipt[], now: number): void {
    const signer = { key: this.#d.signer.privateKey, kid: this.#d.signer.kid, alg: this.#d.signer.alg };
    const iat = Math.floor(now / 1000);
    for (const [i, ect] of ects.entries()) {
      const r = receipts[i];
      if (ect === undefined || r === undefined || "error" in r) continue;
      const receipt = signReceipt({ net: this.#d.network, idx: r.index, hash: r.hash, jti: ect.jti, th: receiptTokenHash(ect.token), iat }, signer);
      receipts[i] = { ...r, receipt };
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

  async #checkpoint(): Promise<LedgerRecord> {
    const batch = this.state.batch;
    const first = batch[0];
    const prev = this.state.last;
    if (first === undefined || prev === undefined) throw new TetherError("ERR_AUDIT_RECORD_INVALID", "nothing to checkpoint");
    const range = checkpointRange(batch, first.index, prev.index);
    const at = this.#d.clock.now();
    const signature = await signCheckpoint(
      { network: this.#d.network, ...range, iat: Math.floor(at / 1000) },
      { key: this.#d.signer.privateKey, kid: this.#d.signer.kid, alg: this.#d.signer.alg },
    );
    const record = appendRecord(prev, { network: this.#d.network, kind: "checkpoint", body: { ...range, signature }, at }, TRUSTED);
    const { foreign } = await this.#d.stream.append([record]);
    this.state.last = record;
    this.state.batch = [record]; // the next checkpoint covers this one too, so checkpoints chain
    this.state.lastCheckpointAt = at;
    // anchored outside the ledger stream: a truncated or deleted ledger is caught against it
    await this.#d.stream.anchor({ kind: "checkpoint", network: this.#d.network, index: record.index, hash: record.hash, signature });
    if (foreign.length > 0) await this.#reportForeign(foreign);
    return record;
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
