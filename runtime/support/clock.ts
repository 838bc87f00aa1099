import { TetherError, type ErrorCode } from "../../protocols/index.ts";

/** Time, injected so timeouts, leases and backoff can run on a fake clock in tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export interface TimerHandle {
  /** Lets the process exit while the timer is pending (Node's `unref`). */
  unref?(): unknown;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

/** Resolves after `ms` on `clock`. */
export const sleep = (clock: Clock, ms: number): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));

/** Rejects with `code` when `promise` does not settle within `ms` on `clock`. */
export const withTimeout = <T>(clock: Clock, promise: Promise<T>, ms: number, code: ErrorCode, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new TetherError(code, `${what} did not finish within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
