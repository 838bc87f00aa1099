import { z } from "zod";
import type { TetherError } from "../protocols/index.ts";
import type { Clock } from "../runtime/index.ts";
import { parseSupervisorOptions, supervisorError } from "./supervisor-errors.ts";
import { shiftWaiter, Waiter, type AcquireOptions, type GiveUpReason, type Release } from "./waiter.ts";

/** Options of one bulkhead (say per actor, or per target of an actor's calls). */
export const BulkheadOptions = z
  .strictObject({
    /** Shown in errors. Default "bulkhead". */
    name: z.string().min(1).max(256).default("bulkhead"),
    /** Calls in flight at once. */
    maxConcurrent: z.number().int().positive().max(1_000_000),
    /** Callers that may wait for a slot; beyond it `acquire` rejects at once. Default 0 (no waiting). */
    maxQueue: z.number().int().nonnegative().max(1_000_000).default(0),
    /** Longest wait for a slot. Default: none (wait until a slot frees or the signal fires). */
    queueTimeoutMs: z.number().int().positive().max(86_400_000).optional(),
  })
  .readonly();
export type BulkheadOptionsInput = z.input<typeof BulkheadOptions>;
export type BulkheadOptions = z.output<typeof BulkheadOptions>;

export interface BulkheadAcquireOptions extends AcquireOptions {
  /** Overrides `queueTimeoutMs` for this call. */
  readonly timeoutMs?: number | undefined;
}

/**
 * Bounds calls in flight. `acquire` resolves with a release function once a slot is free; waiters are
 * served first come, first served, and a freed slot goes straight to the oldest waiter (no barging).
 * Rejections are typed: ERR_BULKHEAD_FULL at once when slots and queue are full, ERR_BULKHEAD_TIMEOUT,
 * ERR_BULKHEAD_ABORTED.
 */
export class Bulkhead {
  readonly options: BulkheadOptions;
  readonly #clock: Clock;
  readonly #queue = new Set<Waiter>();
  readonly #giveUp = (waiter: Waiter, reason: GiveUpReason, cause: unknown): TetherError => {
    this.#queue.delete(waiter);
    const waitedMs = this.#clock.now() - waiter.enqueuedAt;
    return reason === "timeout"
      ? supervisorError("ERR_BULKHEAD_TIMEOUT", `bulkhead ${this.name}: no slot within ${waitedMs} ms`, {
          details: { bulkhead: this.name, waitedMs },
        })
      : supervisorError("ERR_BULKHEAD_ABORTED", `bulkhead ${this.name}: wait aborted`, { cause, details: { bulkhead: this.name, waitedMs } });
  };
  #inFlight = 0;

  constructor(options: BulkheadOptionsInput, clock: Clock) {
    this.options = parseSupervisorOptions(BulkheadOptions, options, "bulkhead options");
    this.#clock = clock;
  }

  get name(): string {
    return this.options.name;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /** Takes a slot if one is free right now (no promise, no waiting). */
  tryAcquire(): Release | undefined {
    if (this.#inFlight >= this.options.maxConcurrent || this.#queue.size > 0) return undefined;
    this.#inFlight++;
    return this.#releaser();
  }

  /** Resolves with a release function once a slot is held. */
  acquire(options: BulkheadAcquireOptions = {}): Promise<Release> {
    if (options.signal?.aborted === true) {
      return Promise.reject(
        supervisorError("ERR_BULKHEAD_ABORTED", `bulkhead ${this.name}: aborted before waiting`, {
          cause: options.signal.reason,
          details: { bulkhead: this.name, waitedMs: 0 },
        }),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.options.queueTimeoutMs;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      return Promise.reject(
        supervisorError("ERR_SUPERVISOR_SPEC_INVALID", `bulkhead ${this.name}: timeoutMs must be a positive number, got ${String(timeoutMs)}`, {
          details: { bulkhead: this.name, timeoutMs },
        }),
      );
    }
    const now = this.tryAcquire();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#queue.size >= this.options.maxQueue) {
      return Promise.reject(
        supervisorError("ERR_BULKHEAD_FULL", `bulkhead ${this.name} is full (${this.#inFlight} in flight, ${this.#queue.size} waiting)`, {
          details: { bulkhead: this.name, maxConcurrent: this.options.maxConcurrent, maxQueue: this.options.maxQueue },
        }),
      );
    }
    const waiter = new Waiter(this.#clock, options.signal, timeoutMs, this.#giveUp);
    this.#queue.add(waiter);
    return waiter.promise;
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = shiftWaiter(this.#queue);
      // The slot passes straight to the oldest waiter; queued waiters are never settled (they leave the queue when they give up).
      if (next === undefined || !next.grant(this.#releaser())) this.#inFlight--;
    };
  }
}
