import { ectError } from "./ect-errors.ts";

/** What the DAG checks need of an ECT already accepted: its id, issue time and parents. */
export interface StoredEct {
  readonly jti: string;
  readonly iat: number;
  readonly par: readonly string[];
}

/**
 * The ECT store the parent checks read (Tether: the audit ledger or a per-workflow index).
 * Verified claims (`VerifiedEct.claims`) are a valid `StoredEct`.
 */
export interface EctStore {
  get(jti: string): Promise<StoredEct | undefined>;
}

export interface MemoryEctStoreOptions {
  /** Entries kept at most; default 100,000. Beyond it the oldest entry is forgotten. */
  readonly maxEntries?: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;

/**
 * An in-process EctStore for tests and single-process use, holding whatever record type the caller
 * puts (e.g. the full verified claims). `put` replaces an entry with the same jti.
 */
export class MemoryEctStore<T extends StoredEct = StoredEct> implements EctStore {
  readonly #entries = new Map<string, T>();
  readonly #maxEntries: number;

  constructor(options: MemoryEctStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw ectError("ERR_CONFIG_INVALID", "maxEntries must be a positive integer", { maxEntries });
    }
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  put(ect: T): void {
    this.#entries.delete(ect.jti);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(ect.jti, ect);
  }

  get(jti: string): Promise<T | undefined> {
    return Promise.resolve(this.#entries.get(jti));
  }
}
