/** The circuit breaker's sliding windows of call outcomes: by time (constant memory) or by count. */

export interface WindowTotals {
  calls: number;
  failures: number;
  slow: number;
}
export interface OutcomeWindow {
  add(now: number, failed: boolean, slow: boolean): void;
  totals(now: number): WindowTotals;
  clear(): void;
}

/** Outcomes of the last `ms`, kept as `buckets` counters (constant memory whatever the call rate). */
export class TimeWindow implements OutcomeWindow {
  readonly #bucketMs: number;
  readonly #epochs: number[];
  readonly #calls: number[];
  readonly #failures: number[];
  readonly #slow: number[];

  constructor(
    ms: number,
    readonly buckets: number,
  ) {
    this.#bucketMs = ms / buckets;
    this.#epochs = new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY);
    this.#calls = new Array<number>(buckets).fill(0);
    this.#failures = new Array<number>(buckets).fill(0);
    this.#slow = new Array<number>(buckets).fill(0);
  }

  add(now: number, failed: boolean, slow: boolean): void {
    const epoch = Math.floor(now / this.#bucketMs);
    const i = ((epoch % this.buckets) + this.buckets) % this.buckets;
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#calls[i] = 0;
      this.#failures[i] = 0;
      this.#slow[i] = 0;
    }
    this.#calls[i] = (this.#calls[i] ?? 0) + 1;
    if (failed) this.#failures[i] = (this.#failures[i] ?? 0) + 1;
    if (slow) this.#slow[i] = (this.#slow[i] ?? 0) + 1;
  }

  totals(now: number): WindowTotals {
    const current = Math.floor(now / this.#bucketMs);
    const out = { calls: 0, failures: 0, slow: 0 };
    for (let i = 0; i < this.buckets; i++) {
      const epoch = this.#epochs[i] ?? Number.NEGATIVE_INFINITY;
      if (epoch > current - this.buckets && epoch <= current) {
        out.calls += this.#calls[i] ?? 0;
        out.failures += this.#failures[i] ?? 0;
        out.slow += this.#slow[i] ?? 0;
      }
    }
    return out;
  }

  clear(): void {
    this.#epochs.fill(Number.NEGATIVE_INFINITY);
  }
}

/** The last `size` outcomes, in a ring (bit 0: failed, bit 1: slow). */
export class CountWindow implements OutcomeWindow {
  readonly #ring: Uint8Array;
  #next = 0;
  #size = 0;
  #failures = 0;
  #slow = 0;

  constructor(size: number) {
    this.#ring = new Uint8Array(size);
  }

  add(_now: number, failed: boolean, slow: boolean): void {
    if (this.#size === this.#ring.length) {
      const old = this.#ring[this.#next] ?? 0;
      this.#failures -= old & 1;
      this.#slow -= (old >> 1) & 1;
    } else {
      this.#size++;
    }
    this.#ring[this.#next] = (failed ? 1 : 0) | (slow ? 2 : 0);
    this.#failures += failed ? 1 : 0;
    this.#slow += slow ? 1 : 0;
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  totals(): WindowTotals {
    return { calls: this.#size, failures: this.#failures, slow: this.#slow };
  }

  clear(): void {
    this.#next = 0;
    this.#size = 0;
    this.#failures = 0;
    this.#slow = 0;
  }
}
