/**
 * Refusal records per second a built-in actor writes to the ledger at most; the rest are counted and the
 * count rides on the next record (`suppressed`), so a flood of forged messages cannot flood the ledger
 * (the same rule as the node's violation log).
 */
export class RefusalBudget {
  readonly #perSecond: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #count = 0;
  #suppressed = 0;

  constructor(perSecond = 20) {
    this.#perSecond = perSecond;
  }

  /** `undefined` when this refusal is only counted; else the details to record (with `suppressed` when some were). */
  take(now: number, details: Record<string, unknown>): Record<string, unknown> | undefined {
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#count = 0;
    }
    if (this.#count >= this.#perSecond) {
      this.#suppressed++;
      return undefined;
    }
    this.#count++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return suppressed > 0 ? { ...details, suppressed } : details;
  }
}
