import { ErrorReply, decodeEnvelope } from "../../protocols/index.ts";

/** What a raw client reads back from an ask it sent by hand: the reply value, or the error reply. */
export type RawAnswer = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: ErrorReply };

/** Reads a reply envelope as a raw NATS client would (test helper; throws on anything else). */
export const readAnswer = (data: Uint8Array): RawAnswer => {
  const envelope = decodeEnvelope(data);
  if (envelope.kind === "reply") return { ok: true, value: envelope.body };
  if (envelope.kind === "error") return { ok: false, error: ErrorReply.parse(envelope.body) };
  throw new Error(`expected a reply or an error envelope, got ${envelope.kind}`);
};
