import { z } from "zod";
import { pack, unpack } from "msgpackr";
import { ErrorCodes, type ErrorCode } from "./error-codes.ts";
import { TetherError } from "./errors.ts";

/**
 * NATS headers Tether writes, only when there is something the ecosystem reads there: W3C trace
 * context when tracing is on, and the Execution Context Token (with its ledger receipt) when the
 * profile mints tokens. Everything else (kind, id, sender, priority) is in the body: see `wire-envelope.ts`.
 */
export const HeaderNames = {
  /** W3C trace context. */
  traceparent: "traceparent",
  tracestate: "tracestate",
  /** Execution Context Token (compact JWS, or an L1 unsigned token), as in the ECT draft's HTTP binding. */
  executionContext: "Execution-Context",
  /** Audit-ledger receipt of the ECT: a compact JWS by the ledger's key (`typ: tether-receipt+jwt`; regulated profile, L3). */
  receipt: "tether-receipt",
  /** The token bound to this message: a detached JWS by the sending node's key over (jti, message id, target, network, body hash). */
  binding: "Execution-Context-Binding",
} as const;

/** Default cap on an encoded body; nats-server's own default max_payload is 1 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

const errorCodeValues = Object.keys(ErrorCodes) as [ErrorCode, ...ErrorCode[]];

/** The body of an `error` reply. */
export const ErrorReply = z.strictObject({
  code: z.string().max(64),
  message: z.string().max(4096),
  retryable: z.boolean(),
  details: z.record(z.string().max(128), z.unknown()).optional(),
});
export type ErrorReply = z.infer<typeof ErrorReply>;

/** One dead-letter record, stored in the network's DLQ stream. */
export const DeadLetterRecord = z.strictObject({
  type: z.literal("tether.deadletter.v1"),
  /** Id of this record. */
  id: z.string().max(128),
  /** Id of the message that could not be delivered, when known. */
  messageId: z.string().max(128).optional(),
  code: z.enum(errorCodeValues),
  reason: z.string().max(4096),
  network: z.string().max(128),
  node: z.string().max(128),
  /** Subject the message was sent to. */
  subject: z.string().max(512),
  /** Actor id it was meant for, when known. */
  target: z.string().max(128).optional(),
  kind: z.string().max(16).optional(),
  messageType: z.string().max(256).optional(),
  from: z.string().max(256).optional(),
  size: z.number().int().nonnegative(),
  /** The first bytes of the body (base64), for diagnosis; bounded. */
  payloadPreview: z.string().max(8192),
  at: z.number().int(),
});
export type DeadLetterRecord = z.infer<typeof DeadLetterRecord>;

export const encodeBody = (value: unknown): Uint8Array => pack(value);

/** Decodes msgpack; any failure becomes ERR_MESSAGE_MALFORMED (never a crash). */
export const decodeBody = (bytes: Uint8Array): unknown => {
  if (bytes.length === 0) return undefined;
  try {
    return unpack(bytes);
  } catch (cause) {
    throw new TetherError("ERR_MESSAGE_MALFORMED", "message body is not valid msgpack", { cause });
  }
};

/** The `type` of a message body, when it has a string one. */
export const messageTypeOf = (body: unknown): string | undefined => {
  if (typeof body === "object" && body !== null && "type" in body) {
    const t = (body as { type: unknown }).type;
    if (typeof t === "string") return t.length > 256 ? t.slice(0, 256) : t;
  }
  return undefined;
};
