import { GENESIS_HASH } from "./digest.ts";
import { hashRecord, safeParseRecord, type LedgerRecord } from "./record.ts";

/**
 * How the ledger verifier names what it finds: each break in the hash chain is classified as the
 * single tampering (modified, deleted, inserted, reordered, invalid) that explains it.
 */

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

export interface Entry {
  readonly record: LedgerRecord | undefined;
  /** Parses and its `hash` matches its stored content. */
  readonly sound: boolean;
}

export type View = (position: number) => Entry | undefined;

export const entryOf = (raw: unknown): Entry => {
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

export const problemAt = (
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

/**
 * Rule 2: a later record that, swapped back into f, puts f..g+1 in place. `seen` is how many
 * positions `view` can show (all of them for verifyLedger, a window after f for a LedgerVerifier).
 */
const swapPartner = (view: View, seen: number, f: number, expectedPrev: string): number | undefined => {
  for (let g = f + 1; g < seen; g += 1) {
    if (!fits(view, g, f, expectedPrev)) continue;
    const swapped: View = (p) => view(p === f ? g : p === g ? f : p);
    let healed = true;
    for (let p = f; p <= Math.min(g + 1, seen - 1) && healed; p += 1) healed = inPlace(swapped, p);
    if (healed) return g;
  }
  return undefined;
};

/**
 * Rules 1-9 above, at the first position `f` that is not in place. `view` must show f-2 .. seen-1;
 * `length` is the number of records in the whole ledger.
 */
export const classify = (view: View, seen: number, length: number, f: number): LedgerProblem => {
  const expectedPrev = prevOf(view, f) ?? GENESIS_HASH; // f-1 is in place, so it parsed
  const entry = view(f) as Entry;
  const record = entry.record;
  const hasNext = f + 1 < length;
  const nextTakesSlot = hasNext && fits(view, f + 1, f, expectedPrev);
  const insertedHere = (why: string) =>
    problemAt(f, "inserted", `record at position ${f} does not belong to the chain: ${why}`, record?.index);

  if (record === undefined) {
    return nextTakesSlot
      ? insertedHere("it is not a valid record, and the next one continues the chain without it")
      : problemAt(f, "invalid", `record at position ${f} is not a valid audit record`, undefined);
  }
  const partner = swapPartner(view, seen, f, expectedPrev);
  if (partner !== undefined) {
    return problemAt(f, "reordered", `records at positions ${f} and ${partner} are swapped`, record.index);
  }
  if (nextTakesSlot) return insertedHere("the next record continues the chain without it");
  if (f > 0 && entry.sound && record.index === f - 1 && record.prevHash === prevOf(view, f - 1)) {
    if (hasNext && fits(view, f + 1, f, record.hash)) {
      const forged = view(f - 1)?.record?.index;
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
      view(f - 1)?.record?.index,
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
