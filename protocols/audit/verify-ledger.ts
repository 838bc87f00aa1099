import { hasAuditCode } from "./audit-errors.ts";
import {
  payloadMatchesBody,
  verifyCheckpointSignature,
  type CheckpointPayload,
  type ResolveCheckpointKey,
} from "./checkpoint.ts";
import { GENESIS_HASH } from "./digest.ts";
import { ectBodyMismatch } from "./ect-entry.ts";
import { merkleRoot } from "./merkle.ts";
import { LedgerProblems, classify, entryOf, problemAt, type Entry, type LedgerProblem, type LedgerProblemKind, type View } from "./ledger-tamper.ts";

export { LedgerProblems, type LedgerProblem, type LedgerProblemKind };
import type { LedgerRecord } from "./record.ts";

export interface LedgerVerdict {
  readonly ok: boolean;
  /** Leading records found sound: all of them when `ok`, else the first problem's position. */
  readonly records: number;
  /** Checkpoint records among those whose signature, range, Merkle root and last hash verified. */
  readonly checkpoints: number;
  readonly firstProblem?: LedgerProblem;
}

export interface VerifyLedgerOptions {
  /** Finds checkpoint verification keys by `kid`; a throw rejects the whole call (see ResolveCheckpointKey). */
  readonly resolveKey: ResolveCheckpointKey;
  /** The network the ledger must belong to. Default: the first record's. */
  readonly network?: string;
  /**
   * Checkpoint signatures (compact JWS) kept outside this ledger: by an independent keeper, a
   * receipt holder, a peer network. They are the only way to see a truncated tail or a re-hashed
   * chain past the last in-ledger checkpoint.
   */
  readonly anchors?: readonly string[];
}

/*
 * How a tampering is classified.
 *
 * Each record is parsed, and its own hash re-derived from what was stored ("sound" = it parses and
 * `hash` matches its content). Position p is "in place" when its record is sound, has index p, and
 * its prevHash is the stored hash of position p-1 (GENESIS_HASH at 0). Let f be the first position
 * not in place and E the hash it should link to. Records before f are the trusted prefix; the rules
 * below pick the one single tampering that explains f and what follows it, in this order:
 *
 *  1. f does not parse: "inserted" at f if the record after it takes slot f (index f, links to E),
 *     else "invalid" at f.
 *  2. A later record at g takes slot f and swapping f and g back puts f..g+1 in place: "reordered"
 *     at f (adjacent or not).
 *  3. The record at f+1 takes slot f: "inserted" at f (removing f heals the chain), whatever f's
 *     own hash or index.
 *  4. f is sound and takes slot f-1 (same index and prevHash as f-1): two records claim one slot.
 *     The one the next record links to is the original; the other is "inserted". When nothing
 *     follows, f is taken as the inserted one.
 *  5. f is not sound (content edited, hash not recomputed): "modified" at f. Exception, at the end
 *     of the array (no successor to vouch for it): an index other than f means "inserted", unless
 *     setting the index back to f restores the stored hash (then only the index was edited).
 *  6. f is sound and links to E but has another index: "modified" at f (index edited, hash
 *     recomputed); at the end of the array, "inserted" (a forged record appended with a wrong index).
 *  7. f is sound, has index f, but does not link to E. If f is 0, or the next record does not link
 *     to f either, f's own prevHash was edited: "modified" at f. Otherwise record f-1 was edited and
 *     its hash recomputed (its successor kept the old link): "modified" at f-1.
 *  8. f is sound, its index is above f and it does not link to E: records f..index-1 were
 *     "deleted" (position f, index f), provided the next record continues from it (or there is
 *     none); otherwise "modified" at f.
 *  9. Anything else (index below f, link broken): "modified" at f, or "inserted" at the end.
 *
 * Then, within the trusted prefix: a record of another network, or an `ect` body whose claims are
 * not its token's, is "invalid"; each checkpoint record is checked (range before itself, signature,
 * signed payload equal to its body, Merkle root and last hash re-computed over the covered records).
 * A bad signature or a root/last hash the records do not support is "checkpoint-invalid"; when both
 * the root and the last hash disagree with an otherwise intact chain, the covered records were
 * rewritten and the whole chain after them re-hashed: "modified", at the first covered position no
 * earlier verified checkpoint pins (the exact record cannot be told from a root).
 * Anchors are checked last: one that signed indexes beyond the last record reports those records
 * "deleted" at position `records.length`.
 * The first problem is the one at the lowest position; on a tie, a chain problem wins, then a
 * checkpoint problem, then an invalid record, then an anchor.
 *
 * Limits, inherent to a hash chain read on its own:
 *  - the end of the array has no successor to vouch for it: a truncated tail, an edit of the last
 *    record with its hash recomputed, or a well-formed record appended after it are invisible
 *    unless an anchor covers them; rules 4-6, 8 and 9 guess at the end (documented above), e.g. a
 *    record appended with an unused index and a broken link reads as "deleted".
 *  - a rewrite that re-hashes everything after the edit is only caught by a checkpoint or anchor
 *    covering the edited record, and located to the range that checkpoint covers.
 *  - several tamperings are reported as the first one these rules see, not necessarily by kind.
 */

/** Candidate problems at the same position are ranked by where they came from. */
const Rank = { chain: 0, checkpoint: 1, content: 2, anchor: 3 } as const;
interface Ranked {
  readonly rank: number;
  readonly problem: LedgerProblem;
}

/** A signed checkpoint (in the ledger or an anchor) against the hashes of the trusted prefix. */
const checkCoverage = (
  hashes: readonly string[],
  range: { readonly fromIndex: number; readonly toIndex: number; readonly merkleRoot: string; readonly lastHash: string },
  pinned: number,
  where: { readonly position: number; readonly label: string },
): { readonly problem: LedgerProblemKind; readonly position: number; readonly message: string } | undefined => {
  const { fromIndex, toIndex } = range;
  const lastOk = hashes[toIndex] === range.lastHash;
  const rootOk = merkleRoot(hashes.slice(fromIndex, toIndex + 1)) === range.merkleRoot;
  if (lastOk && rootOk) return undefined;
  if (!lastOk && !rootOk) {
    const position = Math.max(fromIndex, pinned + 1);
    return {
      problem: "modified",
      position,
      message:
        `${where.label} signed other records ${fromIndex}..${toIndex}: ` +
        `a record from position ${position} on was edited and the chain re-hashed`,
    };
  }
  return {
    problem: "checkpoint-invalid",
    position: where.position,
    message: `${where.label} states a ${lastOk ? "Merkle root" : "last hash"} the records ${fromIndex}..${toIndex} do not have`,
  };
};

/** Verifies a checkpoint signature; a bad one is a message, a failing key lookup is thrown. */
const signedPayload = async (
  jws: string,
  resolveKey: ResolveCheckpointKey,
): Promise<{ readonly payload: CheckpointPayload } | { readonly failure: string }> => {
  try {
    return { payload: await verifyCheckpointSignature(jws, resolveKey) };
  } catch (error) {
    if (hasAuditCode(error, "ERR_AUDIT_CHECKPOINT_INVALID")) return { failure: error.message };
    throw error;
  }
};

/** How many records after the first chain problem a LedgerVerifier keeps to classify it (by default). */
export const DEFAULT_LOOKAHEAD = 10_000;

export interface LedgerVerifierOptions extends VerifyLedgerOptions {
  /**
   * Records kept after the first chain problem to classify it (rules 1-9): the one memory cost
   * that is not constant per record. A swap of two records further apart than this reads as
   * "modified" instead of "reordered". Default DEFAULT_LOOKAHEAD; verifyLedger keeps all.
   */
  readonly lookahead?: number;
}

const isBetter = (candidate: Ranked, best: Ranked | undefined): boolean =>
  best === undefined ||
  candidate.problem.position < best.problem.position ||
  (candidate.problem.position === best.problem.position && candidate.rank < best.rank);

/**
 * Verifies a ledger record by record, as it is read (a stream, a file), with the checks and the
 * classification of `verifyLedger`: `push` each record in stored order, then `finish`. It keeps the
 * records' hashes (checkpoints' Merkle roots are re-computed over them) and nothing else of a sound
 * record; after the first chain problem it keeps `lookahead` records to classify it and counts the
 * rest. The verdict equals verifyLedger's for any ledger whose first problem is followed by at most
 * `lookahead` records (or has none).
 */
export class LedgerVerifier {
  readonly #options: VerifyLedgerOptions;
  readonly #lookahead: number;
  /** Hashes of the trusted prefix (positions 0..sound-1). */
  readonly #hashes: string[] = [];
  /** The last two entries of the trusted prefix: rules 4 and 7 look back that far. */
  #recent: Entry[] = [];
  /** After the first chain problem: entries from it on, up to `lookahead`. */
  readonly #after: Entry[] = [];
  #count = 0;
  #broken = false;
  #network: string | undefined;
  #pinned = -1;
  readonly #verified: number[] = [];
  #best: Ranked | undefined;
  #finished = false;

  constructor(options: LedgerVerifierOptions) {
    this.#options = options;
    this.#lookahead = Math.max(2, options.lookahead ?? DEFAULT_LOOKAHEAD);
    this.#network = options.network;
  }

  /** Records pushed so far. */
  get records(): number {
    return this.#count;
  }

  #found(rank: number, problem: LedgerProblem): void {
    const candidate = { rank, problem };
    if (isBetter(candidate, this.#best)) this.#best = candidate;
  }

  #view(): View {
    const sound = this.#hashes.length;
    return (p) => (p >= sound ? this.#after[p - sound] : this.#recent[p - sound + this.#recent.length]);
  }

  /** Adds the next stored record (any value: a record that does not parse is reported where it stands). */
  async push(raw: unknown): Promise<void> {
    if (this.#finished) throw new Error("LedgerVerifier: push after finish");
    const position = this.#count++;
    if (this.#broken) {
      if (this.#after.length < this.#lookahead) this.#after.push(entryOf(raw));
      return;
    }
    const entry = entryOf(raw);
    const prev = position === 0 ? GENESIS_HASH : this.#hashes[position - 1];
    const record = entry.record;
    if (record === undefined || !entry.sound || record.index !== position || record.prevHash !== prev) {
      this.#broken = true;
      this.#after.push(entry);
      return;
    }
    this.#hashes.push(record.hash);
    this.#recent = [...this.#recent.slice(-1), entry];
    this.#network ??= record.network;
    await this.#checkContent(record);
  }

  /** The checks on a record of the trusted prefix: its network, its ECT body, and checkpoints. */
  async #checkContent(record: LedgerRecord): Promise<void> {
    if (record.network !== this.#network) {
      this.#found(Rank.content, problemAt(record.index, "invalid", `record ${record.index} belongs to network ${record.network}`, record.index));
    } else if (record.kind === "ect") {
      const mismatch = ectBodyMismatch(record.body);
      if (mismatch !== undefined) this.#found(Rank.content, problemAt(record.index, "invalid", `record ${record.index}: ${mismatch}`, record.index));
    }
    if (record.kind !== "checkpoint") return;
    // Checkpoints in chain order; each verified one pins every record up to its toIndex.
    const label = `checkpoint ${record.index}`;
    const fail = (message: string) => this.#found(Rank.checkpoint, problemAt(record.index, "checkpoint-invalid", message, record.index));
    if (record.body.toIndex >= record.index) return fail(`${label} covers records at or after itself`);
    const signed = await signedPayload(record.body.signature, this.#options.resolveKey);
    if ("failure" in signed) return fail(`${label}: ${signed.failure}`);
    if (!payloadMatchesBody(signed.payload, record.network, record.body)) return fail(`${label}: its body differs from what its signature covers`);
    const problem = checkCoverage(this.#hashes, record.body, this.#pinned, { position: record.index, label });
    if (problem !== undefined) {
      this.#found(Rank.checkpoint, problemAt(problem.position, problem.problem, problem.message, problem.position));
      return;
    }
    this.#pinned = Math.max(this.#pinned, record.body.toIndex);
    this.#verified.push(record.index);
  }

  /** Classifies the first chain problem, checks the anchors, and returns the verdict. */
  async finish(): Promise<LedgerVerdict> {
    this.#finished = true;
    const length = this.#count;
    const sound = this.#hashes.length;
    if (this.#broken) this.#found(Rank.chain, classify(this.#view(), sound + this.#after.length, length, sound));

    for (const [i, jws] of (this.#options.anchors ?? []).entries()) {
      const label = `anchor ${i}`;
      const fail = (problem: LedgerProblemKind, position: number, message: string, index?: number) =>
        this.#found(Rank.anchor, { ...problemAt(position, problem, message, index), anchor: i });
      const signed = await signedPayload(jws, this.#options.resolveKey);
      if ("failure" in signed) {
        fail("checkpoint-invalid", length, `${label}: ${signed.failure}`);
        continue;
      }
      const payload = signed.payload;
      if (this.#network !== undefined && payload.network !== this.#network) {
        fail("checkpoint-invalid", length, `${label} is a checkpoint of network ${payload.network}`);
        continue;
      }
      if (payload.toIndex >= sound) {
        // Past a chain problem nothing can be compared; past the last record, records are missing.
        if (sound === length) fail("deleted", sound, `${label} signed records up to ${payload.toIndex}, the ledger ends before ${sound}`, sound);
        continue;
      }
      const problem = checkCoverage(this.#hashes, payload, this.#pinned, { position: length, label });
      if (problem !== undefined) fail(problem.problem, problem.position, problem.message, problem.position);
    }

    const first = this.#best;
    if (first === undefined) return { ok: true, records: length, checkpoints: this.#verified.length };
    const before = first.problem.position;
    return { ok: false, records: before, checkpoints: this.#verified.filter((index) => index < before).length, firstProblem: first.problem };
  }
}

/**
 * Verifies a ledger as stored, in order: re-derives every record's hash and the chain, checks every
 * checkpoint's signature and re-computes its Merkle root over the covered records, then checks the
 * anchors. Reports the first problem, classified by the rules above ("How a tampering is
 * classified"). Never throws for hostile records; a failing `resolveKey` rejects.
 */
export const verifyLedger = async (records: readonly unknown[], options: VerifyLedgerOptions): Promise<LedgerVerdict> => {
  const verifier = new LedgerVerifier({ ...options, lookahead: Number.POSITIVE_INFINITY });
  for (const record of records) await verifier.push(record);
  return verifier.finish();
};

/**
 * `verifyLedger` over records as they arrive (an async iterable: a JetStream read, lines of a file),
 * in memory that does not grow with the records beyond their hashes (see LedgerVerifier).
 * `onRecord(count)` is called after each record (progress displays).
 */
export const verifyLedgerStream = async (
  records: AsyncIterable<unknown> | Iterable<unknown>,
  options: LedgerVerifierOptions & { readonly onRecord?: (count: number) => void },
): Promise<LedgerVerdict> => {
  const verifier = new LedgerVerifier(options);
  for await (const record of records) {
    await verifier.push(record);
    options.onRecord?.(verifier.records);
  }
  return verifier.finish();
};
