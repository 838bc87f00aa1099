/** Appends a security event to the audit ledger (logs when no ledger runs; never throws). */
export type RecordEvent = (event: string, subject: string, details: Record<string, unknown>) => Promise<unknown>;

/**
 * Refusal records per second written to the ledger at most; the rest are counted and the count rides
 * on the next record (`suppressed`), so a flood of forged messages cannot flood the ledger.
 */
const RECORDS_PER_SECOND = 20;

/**
 * Writes refusals (control, token, level, binding, receipt) as `violation` events in the ledger,
 * rate-limited per node: one place for the control plane and the message path alike.
 */
export class ViolationLog {
  readonly #record: RecordEvent;
  readonly #now: () => number;
  #windowStart = 0;
  #windowCount = 0;
  #suppressed = 0;

  constructor(record: RecordEvent, now: () => number) {
    this.#record = record;
    this.#now = now;
  }

  /** Records one refusal unless this second's budget is spent (then counts it for the next record). */
  record(subject: string, details: Record<string, unknown>): void {
    const now = this.#now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    if (this.#windowCount >= RECORDS_PER_SECOND) {
      this.#suppressed++;
      return;
    }
    this.#windowCount++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    void this.#record("violation", subject, { ...details, at: now, ...(suppressed > 0 ? { suppressed } : {}) });
  }
}
