/**
 * Work recorded after the fact, off the path it records: an override's acknowledgements go out first
 * (coverage is what the operator waits for), and each acknowledgement's ECT (hash, signature, store,
 * ledger) is minted afterwards, a chunk per event-loop turn, so a thousand of them never delay an ack,
 * a handler or another signal. Nothing is dropped: a failure is passed to `onError`.
 */
export class DeferredEvidence {
  readonly #chunk: number;
  readonly #onError: (error: unknown) => void;
  readonly #queue: (() => Promise<unknown>)[] = [];
  #draining = false;
  #idle: Promise<void> = Promise.resolve();
  #settleIdle: () => void = () => undefined;

  constructor(options: { chunk?: number; onError: (error: unknown) => void }) {
    this.#chunk = options.chunk ?? 32;
    this.#onError = options.onError;
  }

  /** Queues one piece of evidence; it runs on a later turn of the event loop. */
  add(work: () => Promise<unknown>): void {
    this.#queue.push(work);
    if (this.#draining) return;
    this.#draining = true;
    this.#idle = new Promise((resolve) => {
      this.#settleIdle = resolve;
    });
    setImmediate(() => void this.#drain());
  }

  /** How many are still waiting. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Settles once everything queued so far has run (tests, and a node closing). */
  settled(): Promise<void> {
    return this.#idle;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#chunk);
      await Promise.all(batch.map((work) => work().catch(this.#onError)));
      await new Promise<void>((resolve) => setImmediate(resolve)); // let acks, handlers and signals in
    }
    this.#draining = false;
    this.#settleIdle();
  }
}
