import { ectError } from "./ect-errors.ts";

/** Scope of a `jti` that carries no `wid` (a UUID `wid` can never equal it). */
export const GLOBAL_REPLAY_SCOPE = "*";

/**
 * Remembers which `jti`s were seen, per scope (the token's `wid`, else `GLOBAL_REPLAY_SCOPE`).
 * `checkAndRemember` must be atomic: it returns true when `jti` is new in `scope` (and keeps it
 * until `expiresAt`, epoch ms), false when it was already seen and has not expired.
 * *Tether*: it may return a promise, so a shared cache (e.g. a JetStream KV create) fits too.
 */
export interface ReplayCache {
  checkAndRemember(scope: string, jti: string, expiresAt: number): boolean | Promise<boolean>;
}

export interface MemoryReplayCacheOptions {
  /** Entries kept at most; default 100,000. */
  readonly maxEntries?: number;
  /** Clock in epoch ms; default `Date.now`. */
  readonly now?: () => number;
}

const DEFAULT_MAX_ENTRIES = 100_000;

/**
 * A bounded in-process replay cache. Expired entries are swept when one can have expired (the
 * earliest expiry has passed). When full of live entries it forgets the oldest one: memory stays
 * bounded, at the cost that a token evicted early could be replayed. Size it above the number of
 * tokens a verifier accepts within one token lifetime, or use a shared cache.
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #entries = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;
  #earliestExpiry = Number.POSITIVE_INFINITY;

  constructor(options: MemoryReplayCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw ectError("ERR_CONFIG_INVALID", "maxEntries must be a positive integer", { maxEntries });
    }
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  checkAndRemember(scope: string, jti: string, expiresAt: number): boolean {
    const now = this.#now();
    // A NUL cannot appear in a scope (a UUID or "*"), so keys of two scopes never collide.
    const key = `${scope}\u0000${jti}`;
    const seenUntil = this.#entries.get(key);
    if (seenUntil !== undefined && seenUntil > now) return false;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries && now >= this.#earliestExpiry) this.#sweep(now);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, expiresAt);
    this.#earliestExpiry = Math.min(this.#earliestExpiry, expiresAt);
    return true;
  }

  #sweep(now: number): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, expiresAt] of this.#entries) {
      if (expiresAt <= now) this.#entries.delete(key);
      else earliest = Math.min(earliest, expiresAt);
    }
    this.#earliestExpiry = earliest;
  }
}
