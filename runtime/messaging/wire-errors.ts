import { ErrorReply, TetherError, decodeEnvelope, errorFromWire } from "../../protocols/index.ts";

export const tooLarge = (target: string, size: number, max: number): TetherError =>
  new TetherError("ERR_MESSAGE_TOO_LARGE", `message to ${target} is ${size} bytes; the limit is ${max}`, { details: { size, max } });

/** Reads the body of an error envelope; anything unreadable becomes ERR_MESSAGE_MALFORMED (never a throw). */
export const parseErrorReply = (body: unknown): TetherError => {
  try {
    const parsed = ErrorReply.safeParse(body);
    if (parsed.success) {
      const { details, ...rest } = parsed.data;
      return errorFromWire(details === undefined ? rest : { ...rest, details });
    }
  } catch {
    /* fall through */
  }
  return new TetherError("ERR_MESSAGE_MALFORMED", "received an unreadable error reply");
};

/** The wire form of an error: bounded, with only primitive details. */
export const errorReplyBody = (error: TetherError): ErrorReply => ({
  code: error.code,
  message: error.message.slice(0, 4096),
  retryable: error.retryable,
  details: safeDetails(error.details),
});

const safeDetails = (details: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details).slice(0, 32)) {
    if (typeof v === "string") out[k] = v.slice(0, 1024);
    else if (typeof v === "number" || typeof v === "boolean" || v === null) out[k] = v;
  }
  return out;
};

/**
 * The body of an answer to a request (a control request, a tool's ask): the value of a reply envelope,
 * or the error of an error envelope thrown as a TetherError. Unreadable bytes are ERR_MESSAGE_MALFORMED.
 */
export const answerOf = (data: Uint8Array): unknown => {
  const envelope = decodeEnvelope(data);
  if (envelope.kind === "error") throw parseErrorReply(envelope.body);
  if (envelope.kind !== "reply") throw new TetherError("ERR_MESSAGE_MALFORMED", `expected a reply, got a ${envelope.kind} envelope`);
  return envelope.body;
};
