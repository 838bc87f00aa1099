import type { ErrorCode } from "../error-codes.ts";
import { isTetherError, TetherError } from "../errors.ts";

/** Longest attacker-controlled string copied into an error's message or details. */
const MAX_ECHO_CHARS = 128;

/** A hostile value made safe to log: strings are cut short, anything else is named by its type. */
export const echo = (value: unknown): string | number | boolean | null => {
  if (typeof value === "string") return value.length > MAX_ECHO_CHARS ? `${value.slice(0, MAX_ECHO_CHARS)}…` : value;
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  return `(${Array.isArray(value) ? "array" : typeof value})`;
};

export const ectError = (
  code: ErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): TetherError => new TetherError(code, message, cause === undefined ? { details } : { details, cause });

/**
 * Runs one step that calls code we do not own (a key resolver, a store, a replay cache).
 * A TetherError it throws passes through (a registry outage keeps its own, retryable code);
 * anything else becomes `code`, so the caller never sees a foreign exception.
 */
export const callPort = async <T>(code: ErrorCode, what: string, run: () => Promise<T> | T): Promise<T> => {
  try {
    return await run();
  } catch (cause) {
    if (isTetherError(cause)) throw cause;
    throw ectError(code, `${what} failed`, { reason: "lookup failed" }, cause);
  }
};

/** Last line of defence: whatever escapes a verifier becomes a TetherError with an ECT code. */
export const guardEct = async <T>(run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (cause) {
    if (isTetherError(cause)) throw cause;
    throw ectError("ERR_ECT_MALFORMED", "the token could not be processed", { reason: "unexpected failure" }, cause);
  }
};
