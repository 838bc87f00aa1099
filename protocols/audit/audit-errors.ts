import type { ErrorCode } from "../error-codes.ts";
import { isTetherError, TetherError } from "../errors.ts";

/**
 * The codes this folder throws, with their default retryability. They are not yet in
 * `protocols/error-codes.ts`; once they are, `auditError` can pass `code` straight through.
 */
export const AuditErrorCodes = {
  ERR_AUDIT_RECORD_INVALID: { retryable: false },
  ERR_AUDIT_CANONICAL_JSON: { retryable: false },
  ERR_AUDIT_MERKLE_INPUT_INVALID: { retryable: false },
  ERR_AUDIT_CHECKPOINT_INVALID: { retryable: false },
  ERR_AUDIT_RECEIPT_UNAVAILABLE: { retryable: true },
  ERR_AUDIT_KEY_LOOKUP_FAILED: { retryable: true },
} as const satisfies Record<string, { retryable: boolean }>;
export type AuditErrorCode = keyof typeof AuditErrorCodes;

/** Longest hostile string copied into an error's message or details. */
const MAX_ECHO_CHARS = 128;

/** A hostile value made safe to log: strings are cut short, anything else is named by its type. */
export const echo = (value: unknown): string | number | boolean | null => {
  if (typeof value === "string") return value.length > MAX_ECHO_CHARS ? `${value.slice(0, MAX_ECHO_CHARS)}…` : value;
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  return `(${Array.isArray(value) ? "array" : typeof value})`;
};

/** The one place this folder builds a TetherError. */
export const auditError = (
  code: AuditErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): TetherError => {
  const wireCode: string = code;
  // TODO(lead): remove cast once codes are registered (and the explicit `retryable`, which
  // TetherError would otherwise look up in ErrorCodes and not find).
  return new TetherError(wireCode as ErrorCode, message, {
    retryable: AuditErrorCodes[code].retryable,
    details,
    ...(cause === undefined ? {} : { cause }),
  });
};

/** `hasCode` for the codes of this folder (which ErrorCode does not list yet). */
export const hasAuditCode = (value: unknown, code: AuditErrorCode): value is TetherError =>
  isTetherError(value) && (value.code as string) === code;
