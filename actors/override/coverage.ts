import type { OverrideAck } from "../../protocols/index.ts";

/** Acknowledged / expected for one signal, and who is missing (expected null: not known in advance). */
export interface Coverage {
  readonly overrideId: string;
  readonly expected: readonly string[] | null;
  readonly acked: ReadonlyMap<string, OverrideAck>;
  readonly missing: readonly string[];
  /** acked / expected (1 when nothing was expected; acked count over itself when expected is unknown). */
  readonly fraction: number;
  readonly complete: boolean;
}

/** Tallies acknowledgements against the expected set; acks may arrive before the expected set is known. */
export class CoverageTally {
  readonly overrideId: string;
  #expected: readonly string[] | null | undefined;
  #expectedSet: ReadonlySet<string> = new Set();
  /** How many of the expected have acknowledged (kept as acks arrive: `complete` is O(1)). */
  #ackedExpected = 0;
  readonly #acked = new Map<string, OverrideAck>();

  constructor(overrideId: string) {
    this.overrideId = overrideId;
  }

  expect(expected: readonly string[] | null): void {
    this.#expected = expected;
    this.#expectedSet = new Set(expected ?? []);
    this.#ackedExpected = 0;
    for (const id of this.#acked.keys()) if (this.#expectedSet.has(id)) this.#ackedExpected++;
  }

  add(ack: OverrideAck): void {
    if (ack.overrideId !== this.overrideId || this.#acked.has(ack.actorId)) return;
    this.#acked.set(ack.actorId, ack);
    if (this.#expectedSet.has(ack.actorId)) this.#ackedExpected++;
  }

  /** True once the expected set is known and every member acknowledged (without building a snapshot). */
  get complete(): boolean {
    return this.#expected !== undefined && this.#expected !== null && this.#ackedExpected === this.#expectedSet.size;
  }

  get snapshot(): Coverage {
    const expected = this.#expected ?? null;
    const missing = expected === null ? [] : expected.filter((id) => !this.#acked.has(id));
    const fraction = expected === null ? (this.#acked.size > 0 ? 1 : 0) : expected.length === 0 ? 1 : (expected.length - missing.length) / expected.length;
    return { overrideId: this.overrideId, expected, acked: this.#acked, missing, fraction, complete: expected !== null && missing.length === 0 };
  }
}
