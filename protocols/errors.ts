import { ErrorCodes, isErrorCode, type ErrorCode } from "./error-codes.ts";

const BRAND = Symbol.for("tether.error");

export interface TetherErrorOptions {
  readonly cause?: unknown;
  /** Overrides the code's default retryability. */
  readonly retryable?: boolean;
  /** Structured context (ids, limits) safe to log and to send on the wire. */
  readonly details?: Record<string, unknown>;
}

/**
 * The one error type Tether throws and sends. `code` is stable (`ERR_<AREA>_<WHAT>`).
 * Check with `isTetherError`, not `instanceof`, so duplicate package copies still match.
 */
export class TetherError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TetherErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TetherError";
    this.code = code;
    this.retryable = options.retryable ?? ErrorCodes[code].retryable;
    this.details = options.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The wire form of this error (see `ErrorReply` in envelope.ts). */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, retryable: this.retryable, details: this.details };
  }
}

export const isTetherError = (value: unknown): value is TetherError =>
  typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;

/** Checks the brand and the code in one step: `hasCode(err, "ERR_MAILBOX_FULL")`. */
export const hasCode = (value: unknown, code: ErrorCode): value is TetherError =>
  isTetherError(value) && value.code === code;

/** Rebuilds an error received on the wire; an unknown code becomes ERR_TRANSPORT_FAILED. */
export const errorFromWire = (wire: { code: string; message: string; retryable?: boolean; details?: Record<string, unknown> }): TetherError => {
  const code: ErrorCode = isErrorCode(wire.code) ? wire.code : "ERR_TRANSPORT_FAILED";
  return new TetherError(code, wire.message, {
    ...(wire.retryable === undefined ? {} : { retryable: wire.retryable }),
    details: { ...(wire.details ?? {}), ...(code === wire.code ? {} : { remoteCode: wire.code }) },
  });
};
