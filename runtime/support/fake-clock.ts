import type { Clock, TimerHandle } from "./clock.ts";

interface FakeTimer extends TimerHandle {
  readonly id: number;
  at: number;
  readonly every: number | undefined;
  readonly fn: () => void;
}

/**
 * A manual clock for tests: time moves only when `advance` is called, and timers fire in order.
 * Exported so users can test their own actors' timeouts the same way.
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms, Math.max(1, ms));
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete((handle as FakeTimer).id);
  }

  clearInterval(handle: TimerHandle): void {
    this.#timers.delete((handle as FakeTimer).id);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in time order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.#timers.values()) if (t.at <= target && (next === undefined || t.at < next.at)) next = t;
      if (next === undefined) break;
      this.#now = next.at;
      if (next.every === undefined) this.#timers.delete(next.id);
      else next.at += next.every;
      next.fn();
    }
    this.#now = target;
  }

  #add(fn: () => void, ms: number, every: number | undefined): FakeTimer {
    const timer: FakeTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), every, fn, unref: () => timer };
    this.#timers.set(timer.id, timer);
    return timer;
  }
}
