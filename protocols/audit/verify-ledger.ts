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
import { hashRecord, safeParseRecord, type CheckpointRecord, type LedgerRecord } from "./record.ts";

/** What `verifyLedger` can find wrong, named for the single tampering that explains it. */
export const LedgerProblems = ["modified", "deleted", "inserted", "reordered", "invalid", "checkpoint-invalid"] as const;
export type LedgerProblemKind = (typeof LedgerProblems)[number];

export interface LedgerProblem {
  /** Position in the `records` array (for a deleted tail: the array's length). */
  readonly position: number;
  /**
   * The chain index concerned: for `deleted`, the first missing index; otherwise the index the
   * record at `position` claims (absent when it does not parse).
   */
  readonly index?: number;
  readonly problem: LedgerProblemKind;
  readonly message: string;
  /** Set when the problem was found through `options.anchors[anchor]`. */
  readonly anchor?: number;
}

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

interface Entry {
  readonly record: LedgerRecord | undefined;
  /** Parses and its `hash` matches its stored content. */
  readonly sound: boolean;
}

type View = (position: number) => Entry | undefined;

/** Candidate problems at the same position are ranked by where they came from. */
const Rank = { chain: 0, checkpoint: 1, content: 2, anchor: 3 } as const;
interface Ranked {
  readonly rank: number;
  readonly problem: LedgerProblem;
}

const entryOf = (raw: unknown): Entry => {
  const record = safeParseRecord(raw);
  if (record === undefined) return { record, sound: false };
  try {
    // Hash what was stored, not the parsed copy, so that no byte of the stored record escapes.
    return { record, sound: hashRecord(raw as object) === record.hash };
  } catch {
    return { record: undefined, sound: false };
  }
};

const prevOf = (view: View, position: number): string | undefined =>
  position === 0 ? GENESIS_HASH : view(position - 1)?.record?.hash;

const fits = (view: View, position: number, index: number, prevHash: string | undefined): boolean => {
  const entry = view(position);
  return (
    prevHash !== undefined &&
    entry?.record !== undefined &&
    entry.sound &&
    entry.record.index === index &&
    entry.record.prevHash === prevHash
  );
};

const inPlace = (view: View, position: number): boolean => fits(view, position, position, prevOf(view, position));

const problemAt = (
  position: number,
  problem: LedgerProblemKind,
  message: string,
  index: number | undefined,
): LedgerProblem => (index === undefined ? { position, problem, message } : { position, index, problem, message });

/** True when putting `index` back to `position` restores the stored hash: only the index was edited. */
const onlyIndexEdited = (record: LedgerRecord, position: number): boolean => {
  try {
    return hashRecord({ ...record, index: position }) === record.hash;
  } catch {
    return false;
  }
};

/** Rule 2: a later record that, swapped back into f, puts f..g+1 in place. */
const swapPartner = (entries: readonly Entry[], f: number, expectedPrev: string): number | undefined => {
  const view: View = (p) => entries[p];
  for (let g = f + 1; g < entries.length; g += 1) {
    if (!fits(view, g, f, expectedPrev)) continue;
    const swapped: View = (p) => entries[p === f ? g : p === g ? f : p];
    let healed = true;
    for (let p = f; p <= Math.min(g + 1, entries.length - 1) && healed; p += 1) healed = inPlace(swapped, p);
    if (healed) return g;
  }
  return undefined;
};

/** Rules 1-9 above, at the first position `f` that is not in place. */
const classify = (entries: readonly Entry[], f: number): LedgerProblem => {
  const view: View = (p) => entries[p];
  const expectedPrev = prevOf(view, f) ?? GENESIS_HASH; // f-1 is in place, so it parsed
  const entry = entries[f] as Entry;
  const record = entry.record;
  const hasNext = f + 1 < entries.length;
  const nextTakesSlot = hasNext && fits(view, f + 1, f, expectedPrev);
  const insertedHere = (why: string) =>
    problemAt(f, "inserted", `record at position ${f} does not belong to the chain: ${why}`, record?.index);

  if (record === undefined) {
    return nextTakesSlot
      ? insertedHere("it is not a valid record, and the next one continues the chain without it")
      : problemAt(f, "invalid", `record at position ${f} is not a valid audit record`, undefined);
  }
  const partner = swapPartner(entries, f, expectedPrev);
  if (partner !== undefined) {
    return problemAt(f, "reordered", `records at positions ${f} and ${partner} are swapped`, record.index);
  }
  if (nextTakesSlot) return insertedHere("the next record continues the chain without it");
  if (f > 0 && entry.sound && record.index === f - 1 && record.prevHash === prevOf(view, f - 1)) {
    if (hasNext && fits(view, f + 1, f, record.hash)) {
      const forged = entries[f - 1]?.record?.index;
      const message = `record at position ${f - 1} duplicates the slot of the next one, which the chain continues from`;
      return problemAt(f - 1, "inserted", message, forged);
    }
    return insertedHere(`it duplicates the slot of position ${f - 1}`);
  }
  if (!entry.sound) {
    if (!hasNext && record.index !== f && !onlyIndexEdited(record, f)) {
      return insertedHere(`it is last, claims index ${record.index} and does not match its hash`);
    }
    return problemAt(f, "modified", `record at position ${f} does not match its hash`, record.index);
  }
  if (record.prevHash === expectedPrev) {
    return hasNext
      ? problemAt(f, "modified", `record at position ${f} claims index ${record.index}`, record.index)
      : insertedHere(`it is last and claims index ${record.index}`);
  }
  if (record.index === f) {
    if (f === 0 || (hasNext && !fits(view, f + 1, f + 1, record.hash))) {
      return problemAt(f, "modified", `record at position ${f} has an edited prevHash`, record.index);
    }
    return problemAt(
      f - 1,
      "modified",
      `record at position ${f - 1} was edited and re-hashed: the next record links to its old hash`,
      entries[f - 1]?.record?.index,
    );
  }
  if (record.index > f) {
    if (!hasNext || fits(view, f + 1, record.index + 1, record.hash)) {
      const missing = record.index - f;
      return problemAt(
        f,
        "deleted",
        missing === 1
          ? `record ${f} is missing before position ${f}`
          : `records ${f}..${record.index - 1} are missing before position ${f}`,
        f,
      );
    }
    return problemAt(f, "modified", `record at position ${f} claims index ${record.index} and breaks the chain`, record.index);
  }
  return hasNext
    ? problemAt(f, "modified", `record at position ${f} claims index ${record.index} and breaks the chain`, record.index)
    : insertedHere(`it is last, reuses index ${record.index} and breaks the chain`);
};

/** A signed checkpoint (in the ledger or an anchor) against the trusted prefix `records[0..sound)`. */
const checkCoverage = (
  records: readonly LedgerRecord[],
  range: { readonly fromIndex: number; readonly toIndex: number; readonly merkleRoot: string; readonly lastHash: string },
  pinned: number,
  where: { readonly position: number; readonly label: string },
): { readonly problem: LedgerProblemKind; readonly position: number; readonly message: string } | undefined => {
  const { fromIndex, toIndex } = range;
  const last = records[toIndex] as LedgerRecord;
  const lastOk = last.hash === range.lastHash;
  const rootOk = merkleRoot(records.slice(fromIndex, toIndex + 1).map((record) => record.hash)) === range.merkleRoot;
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

/**
 * Verifies a ledger as stored, in order: re-derives every record's hash and the chain, checks every
 * checkpoint's signature and re-computes its Merkle root over the covered records, then checks the
 * anchors. Reports the first problem, classified by the rules above ("How a tampering is
 * classified"). Never throws for hostile records; a failing `resolveKey` rejects.
 */
export const verifyLedger = async (records: readonly unknown[], options: VerifyLedgerOptions): Promise<LedgerVerdict> => {
  const entries = records.map(entryOf);
  const view: View = (p) => entries[p];
  let sound = 0;
  while (sound < entries.length && inPlace(view, sound)) sound += 1;
  const prefix = entries.slice(0, sound).map((entry) => entry.record as LedgerRecord);
  const found: Ranked[] = [];
  if (sound < entries.length) found.push({ rank: Rank.chain, problem: classify(entries, sound) });

  const network = options.network ?? prefix[0]?.network;
  for (const record of prefix) {
    if (record.network !== network) {
      found.push({
        rank: Rank.content,
        problem: problemAt(record.index, "invalid", `record ${record.index} belongs to network ${record.network}`, record.index),
      });
    } else if (record.kind === "ect") {
      const mismatch = ectBodyMismatch(record.body);
      if (mismatch !== undefined) {
        const message = `record ${record.index}: ${mismatch}`;
        found.push({ rank: Rank.content, problem: problemAt(record.index, "invalid", message, record.index) });
      }
    }
  }

  // Checkpoints in chain order; each verified one pins every record up to its toIndex.
  let pinned = -1;
  const verified: number[] = [];
  for (const record of prefix.filter((candidate): candidate is CheckpointRecord => candidate.kind === "checkpoint")) {
    const label = `checkpoint ${record.index}`;
    const fail = (message: string) =>
      found.push({ rank: Rank.checkpoint, problem: problemAt(record.index, "checkpoint-invalid", message, record.index) });
    if (record.body.toIndex >= record.index) {
      fail(`${label} covers records at or after itself`);
      continue;
    }
    const signed = await signedPayload(record.body.signature, options.resolveKey);
    if ("failure" in signed) {
      fail(`${label}: ${signed.failure}`);
      continue;
    }
    if (!payloadMatchesBody(signed.payload, record.network, record.body)) {
      fail(`${label}: its body differs from what its signature covers`);
      continue;
    }
    const problem = checkCoverage(prefix, record.body, pinned, { position: record.index, label });
    if (problem !== undefined) {
      found.push({ rank: Rank.checkpoint, problem: problemAt(problem.position, problem.problem, problem.message, problem.position) });
      continue;
    }
    pinned = Math.max(pinned, record.body.toIndex);
    verified.push(record.index);
  }

  for (const [i, jws] of (options.anchors ?? []).entries()) {
    const label = `anchor ${i}`;
    const fail = (problem: LedgerProblemKind, position: number, message: string, index?: number) =>
      found.push({ rank: Rank.anchor, problem: { ...problemAt(position, problem, message, index), anchor: i } });
    const signed = await signedPayload(jws, options.resolveKey);
    if ("failure" in signed) {
      fail("checkpoint-invalid", records.length, `${label}: ${signed.failure}`);
      continue;
    }
    const payload = signed.payload;
    if (network !== undefined && payload.network !== network) {
      fail("checkpoint-invalid", records.length, `${label} is a checkpoint of network ${payload.network}`);
      continue;
    }
    if (payload.toIndex >= sound) {
      // Past a chain problem nothing can be compared; past the last record, records are missing.
      if (sound === entries.length) {
        fail("deleted", sound, `${label} signed records up to ${payload.toIndex}, the ledger ends before ${sound}`, sound);
      }
      continue;
    }
    const problem = checkCoverage(prefix, payload, pinned, { position: records.length, label });
    if (problem !== undefined) fail(problem.problem, problem.position, problem.message, problem.position);
  }

  const first = found.reduce<Ranked | undefined>(
    (best, candidate) =>
      best === undefined ||
      candidate.problem.position < best.problem.position ||
      (candidate.problem.position === best.problem.position && candidate.rank < best.rank)
        ? candidate
        : best,
    undefined,
  );
  if (first === undefined) return { ok: true, records: records.length, checkpoints: verified.length };
  const before = first.problem.position;
  return {
    ok: false,
    records: before,
    checkpoints: verified.filter((index) => index < before).length,
    firstProblem: first.problem,
  };
};
