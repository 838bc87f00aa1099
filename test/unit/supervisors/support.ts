import { isTetherError, type TetherError } from "../../../protocols/index.ts";

/** A seeded pseudo-random source in [0, 1) (mulberry32): the same seed gives the same sequence. */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

/**
 * The code of a TetherError as a plain string. The supervisors' codes are not registered in
 * protocols/error-codes.ts yet, so `hasCode(err, "ERR_BREAKER_OPEN")` would not compile.
 */
export const codeOf = (error: unknown): string | undefined => (isTetherError(error) ? (error.code as string) : undefined);

/** Runs `fn` and returns what it threw (fails the test if it did not throw a TetherError). */
export const thrown = (fn: () => unknown): TetherError => {
  try {
    fn();
  } catch (error) {
    if (isTetherError(error)) return error;
    throw error;
  }
  throw new Error("expected a TetherError to be thrown");
};

/** Lets pending promise callbacks run, `ticks` microtask turns deep (no timers involved). */
export const flush = async (ticks = 20): Promise<void> => {
  for (let i = 0; i < ticks; i++) await Promise.resolve();
};

/** Tracks how a promise settles without awaiting it. */
export const track = <T>(promise: Promise<T>): { state: "pending" | "fulfilled" | "rejected"; value?: T; error?: unknown } => {
  const out: { state: "pending" | "fulfilled" | "rejected"; value?: T; error?: unknown } = { state: "pending" };
  promise.then(
    (value) => {
      out.state = "fulfilled";
      out.value = value;
    },
    (error: unknown) => {
      out.state = "rejected";
      out.error = error;
    },
  );
  return out;
};
