import type { ErrorCode } from "../error-codes.ts";
import { hasCode, TetherError } from "../errors.ts";

/** The codes this folder throws (registered in `protocols/error-codes.ts`). */
export type AuditErrorCode = Extract<ErrorCode, `ERR_AUDIT_${string}`>;

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
  return new TetherError(code, message, {
    details,
    ...(cause === undefined ? {} : { cause }),
  });
};

/** `hasCode` for the codes of this folder. */
export const hasAuditCode = (value: unknown, code: AuditErrorCode): value is TetherError => hasCode(value, code);
