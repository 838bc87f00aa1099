import { TetherError } from "../../protocols/index.ts";
import type { Clock, TimerHandle } from "../support/clock.ts";

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly deadline: number;
  readonly target: string;
  readonly timeoutMs: number;
  /** Publishes the ask again, unchanged (same id and reply subject): for "no responders" during a failover. */
  readonly resend: (() => void) | undefined;
  /** Times it was sent again. */
  resent: number;
}

/** What a "no responders" notice needs to decide whether to send an ask again. */
export interface PendingAsk {
  readonly target: string;
  readonly deadline: number;
  readonly resend: (() => void) | undefined;
  readonly resent: number;
}

/**
 * Correlates replies on a node's one shared inbox with the asks waiting for them.
 * Timeouts use one coarse sweep timer (a timer wheel with `tickMs` slots), not a `setTimeout` per call:
 * an ask times out between `timeoutMs` and `timeoutMs + tickMs` after it was sent.
 */
export class PendingReplies {
  readonly #pending = new Map<string, Pending>();
  readonly #slots = new Map<number, string[]>();
  readonly #clock: Clock;
  readonly #tickMs: number;
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, tickMs = 25) {
    this.#clock = clock;
    this.#tickMs = tickMs;
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Registers a waiter for `id`; the returned promise settles with the reply, an error, or ERR_ASK_TIMEOUT. */
  wait(id: string, target: string, timeoutMs: number, resend?: () => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const deadline = this.#clock.now() + timeoutMs;
      this.#pending.set(id, { resolve, reject, deadline, target, timeoutMs, resend, resent: 0 });
      const slot = Math.ceil(deadline / this.#tickMs);
      const ids = this.#slots.get(slot);
      if (ids === undefined) this.#slots.set(slot, [id]);
      else ids.push(id);
      this.#ensureTimer();
    });
  }

  /** Settles the waiter for `id`; returns false when none is waiting (late or unknown reply). */
  resolve(id: string, value: unknown): boolean {
    const p = this.#pending.get(id);
    if (p === undefined) return false;
    this.#pending.delete(id);
    p.resolve(value);
    return true;
  }

  reject(id: string, error: unknown): boolean {
    const p = this.#pending.get(id);
    if (p === undefined) return false;
    this.#pending.delete(id);
    p.reject(error);
    return true;
  }

  /** The ask still waiting under `id` (its target names dead-letter records), if any. */
  ask(id: string): PendingAsk | undefined {
    return this.#pending.get(id);
  }

  /** Sends the ask under `id` again if it is still waiting; false when it is not. */
  resend(id: string): boolean {
    const p = this.#pending.get(id);
    if (p?.resend === undefined) return false;
    p.resent++;
    p.resend();
    return true;
  }


  /** Rejects every waiter (node shutdown) and stops the sweep timer. */
  rejectAll(error: TetherError): void {
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(error);
    }
    this.#slots.clear();
    this.#stopTimer();
  }

  /** Fires timeouts that are due. Called by the sweep timer; public for tests on a fake clock. */
  sweep(): void {
    const now = this.#clock.now();
    const upTo = Math.floor(now / this.#tickMs);
    for (const slot of [...this.#slots.keys()]) {
      if (slot > upTo) continue;
      const ids = this.#slots.get(slot) ?? [];
      this.#slots.delete(slot);
      for (const id of ids) {
        const p = this.#pending.get(id);
        if (p === undefined) continue;
        if (p.deadline > now) {
          // deadline rounds into this slot but has not passed yet: keep it for the next tick
          const next = this.#slots.get(slot + 1);
          if (next === undefined) this.#slots.set(slot + 1, [id]);
          else next.push(id);
          continue;
        }
        this.#pending.delete(id);
        p.reject(
          new TetherError("ERR_ASK_TIMEOUT", `no reply from ${p.target} within ${p.timeoutMs} ms`, {
            details: { target: p.target, timeoutMs: p.timeoutMs },
          }),
        );
      }
    }
    if (this.#pending.size === 0 && this.#slots.size === 0) this.#stopTimer();
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#clock.setInterval(() => this.sweep(), this.#tickMs);
    this.#timer.unref?.();
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
