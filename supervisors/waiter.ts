import type { TetherError } from "../protocols/index.ts";
import type { Clock, TimerHandle } from "../runtime/index.ts";

/** Gives a slot back. Calling it again does nothing. */
export type Release = () => void;

export interface AcquireOptions {
  /** Cancels the wait (ERR_BULKHEAD_ABORTED); a slot already granted is unaffected. */
  readonly signal?: AbortSignal | undefined;
}

export const GiveUpReason = { timeout: "timeout", aborted: "aborted" } as const;
export type GiveUpReason = (typeof GiveUpReason)[keyof typeof GiveUpReason];

/**
 * One queued request for a slot. It settles exactly once: granted, timed out (on the injected clock)
 * or aborted through its signal; either way its timer and abort listener are removed.
 * `onGiveUp` must take the waiter out of its queue and return the error to reject with.
 */
export class Waiter {
  readonly promise: Promise<Release>;
  readonly enqueuedAt: number;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;
  readonly #onGiveUp: (waiter: Waiter, reason: GiveUpReason, cause: unknown) => TetherError;
  #resolve: (release: Release) => void = () => {};
  #reject: (error: unknown) => void = () => {};
  #timer: TimerHandle | undefined;
  #settled = false;
  readonly #onAbort = (): void => this.#giveUp("aborted", this.#signal?.reason);

  constructor(
    clock: Clock,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    onGiveUp: (waiter: Waiter, reason: GiveUpReason, cause: unknown) => TetherError,
  ) {
    this.#clock = clock;
    this.#signal = signal;
    this.#onGiveUp = onGiveUp;
    this.enqueuedAt = clock.now();
    this.promise = new Promise<Release>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (timeoutMs !== undefined) this.#timer = clock.setTimeout(() => this.#giveUp("timeout", undefined), timeoutMs);
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Hands the slot over; returns false if the waiter had already given up. */
  grant(release: Release): boolean {
    if (this.#settled) return false;
    this.#settle();
    this.#resolve(release);
    return true;
  }

  #giveUp(reason: GiveUpReason, cause: unknown): void {
    if (this.#settled) return;
    this.#settle();
    this.#reject(this.#onGiveUp(this, reason, cause));
  }

  #settle(): void {
    this.#settled = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}

/** Takes the oldest waiter out of an insertion-ordered set. */
export const shiftWaiter = (queue: Set<Waiter>): Waiter | undefined => {
  for (const waiter of queue) {
    queue.delete(waiter);
    return waiter;
  }
  return undefined;
};
