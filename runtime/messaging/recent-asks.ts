/**
 * The asks a node received lately, by actor and reply subject (unique per ask: the asker's inbox plus the
 * ask's id). An asker sends an ask again, unchanged, only after a "no responders" notice (nobody got it);
 * a notice forged by someone on the bus must not make the actor handle the ask twice, so a copy of an ask
 * seen here is dropped (the original's reply answers the asker). Bounded: the oldest are forgotten first.
 */
export class RecentAsks {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max = 16_384) {
    this.#max = max;
  }

  /** True the first time `actorId`'s ask with reply subject `reply` is seen; false for a copy. */
  first(actorId: string, reply: string): boolean {
    const key = `${actorId} ${reply}`;
    if (this.#seen.has(key)) return false;
    if (this.#seen.size >= this.#max) {
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    this.#seen.add(key);
    return true;
  }
}
