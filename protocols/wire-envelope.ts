import { pack, unpack } from "msgpackr";
import { TetherError } from "./errors.ts";

/**
 * The wire envelope: every message between nodes is ONE msgpack array whose first element is the
 * envelope version. Metadata (kind, id, sender, priority) travels in the body, not in NATS headers:
 * measured on `bench core`, header blocks doubled the bytes of a 130-byte tell and made header parsing
 * (nats.js + Tether) about 70% of the receiver's extra CPU. One `pack`/`unpack` now covers both the
 * metadata and the message, and nats.js never sees a header block unless tracing or ECT put one there.
 *
 * Layout of version 1 (kinds are small integers, one byte each on the wire):
 *
 * | kind          | array                                           |
 * |---------------|-------------------------------------------------|
 * | tell/ask/compensate | `[1, kind, id, from, flags, body]`        |
 * | reply         | `[1, 4, value]` (correlated by the reply subject) |
 * | error         | `[1, 5, ErrorReply, id?]` (`id`: the refused tell's id, on tell reports) |
 * | credit        | `[1, 6, n]` (n tells to this subject's target were handled or refused) |
 *
 * `flags` bit 0 is the priority lane. The message's `type` is not copied: it is the body's own `type`
 * field, read after the single decode. The error code stays readable (`ErrorReply.code` is a string).
 *
 * Rolling upgrades: a node reads every version in `READ_VERSIONS` and writes `ENVELOPE_VERSION`. A
 * change ships as "read v1 and v2, write v1" on every node first, then "write v2". A message of a
 * version a node cannot read is refused with ERR_MESSAGE_VERSION_UNSUPPORTED (error reply and dead letter).
 *
 * The decoder checks shapes by hand rather than with a zod tuple: it runs once per message on the hot
 * path, where a zod parse of the envelope cost more than the rest of the metadata handling together.
 * The body itself is still parsed by the receiving actor's zod schema.
 */
export const ENVELOPE_VERSION = 1;
const READ_VERSIONS: ReadonlySet<number> = new Set([1]);

/** Envelope kinds and their wire numbers. */
export const EnvelopeKind = { tell: 1, ask: 2, compensate: 3, reply: 4, error: 5, credit: 6 } as const;
export type EnvelopeKind = keyof typeof EnvelopeKind;

/** Bits of a send envelope's `flags`. */
export const EnvelopeFlags = { priority: 1 } as const;

export const ENVELOPE_LIMITS = { id: 128, from: 256, credit: 1_000_000 } as const;

export type SendKind = "tell" | "ask" | "compensate";

/** A decoded envelope. */
export type WireEnvelope =
  | { readonly kind: SendKind; readonly id: string; readonly from: string | undefined; readonly priority: boolean; readonly body: unknown }
  | { readonly kind: "reply"; readonly body: unknown }
  | { readonly kind: "error"; readonly body: unknown; readonly id: string | undefined }
  | { readonly kind: "credit"; readonly n: number };

const SEND_KIND = [undefined, "tell", "ask", "compensate"] as const;

/** A tell, ask or compensation request. Throws whatever msgpackr throws for an unencodable body. */
export const encodeSend = (kind: SendKind, id: string, from: string, priority: boolean, body: unknown): Uint8Array =>
  pack([ENVELOPE_VERSION, EnvelopeKind[kind], id, from, priority ? EnvelopeFlags.priority : 0, body]);

export const encodeReply = (value: unknown): Uint8Array => pack([ENVELOPE_VERSION, EnvelopeKind.reply, value]);

/** An error reply (ask) or a tell's rejection report (with the refused tell's `id`). */
export const encodeError = (body: unknown, id?: string): Uint8Array =>
  pack(id === undefined ? [ENVELOPE_VERSION, EnvelopeKind.error, body] : [ENVELOPE_VERSION, EnvelopeKind.error, body, id]);

/** Returns `n` flow-control credits for tells to the target named by the subject it is published on. */
export const encodeCredit = (n: number): Uint8Array => pack([ENVELOPE_VERSION, EnvelopeKind.credit, n]);

const malformed = (why: string): TetherError => new TetherError("ERR_MESSAGE_MALFORMED", `not a Tether envelope: ${why}`);

const boundedString = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;

/**
 * Decodes an envelope. Throws ERR_MESSAGE_MALFORMED (bad msgpack, wrong shape) or
 * ERR_MESSAGE_VERSION_UNSUPPORTED (a version this node does not read); never anything else.
 */
export const decodeEnvelope = (bytes: Uint8Array): WireEnvelope => {
  if (bytes.length === 0) throw malformed("empty body");
  let value: unknown;
  try {
    value = unpack(bytes);
  } catch (cause) {
    throw new TetherError("ERR_MESSAGE_MALFORMED", "message body is not valid msgpack", { cause });
  }
  if (!Array.isArray(value) || value.length < 3) throw malformed("expected an array [version, kind, …]");
  const version: unknown = value[0];
  if (typeof version !== "number" || !Number.isInteger(version)) throw malformed("the first element is not a version number");
  if (!READ_VERSIONS.has(version)) {
    throw new TetherError("ERR_MESSAGE_VERSION_UNSUPPORTED", `envelope version ${version} is not supported (this node reads ${[...READ_VERSIONS].join(", ")})`, {
      details: { version, supported: [...READ_VERSIONS].join(",") },
    });
  }
  const kind: unknown = value[1];
  switch (kind) {
    case EnvelopeKind.tell:
    case EnvelopeKind.ask:
    case EnvelopeKind.compensate: {
      if (value.length !== 6) throw malformed("a send has 6 elements");
      const [, , id, from, flags, body] = value as unknown[];
      if (!boundedString(id, ENVELOPE_LIMITS.id) || id.length === 0) throw malformed("invalid message id");
      if (!boundedString(from, ENVELOPE_LIMITS.from)) throw malformed("invalid sender");
      if (typeof flags !== "number" || !Number.isInteger(flags) || flags < 0) throw malformed("invalid flags");
      return { kind: SEND_KIND[kind] as SendKind, id, from: from === "" ? undefined : from, priority: (flags & EnvelopeFlags.priority) !== 0, body };
    }
    case EnvelopeKind.reply:
      if (value.length !== 3) throw malformed("a reply has 3 elements");
      return { kind: "reply", body: value[2] };
    case EnvelopeKind.error: {
      if (value.length !== 3 && value.length !== 4) throw malformed("an error has 3 or 4 elements");
      const id: unknown = value[3];
      if (id !== undefined && (!boundedString(id, ENVELOPE_LIMITS.id) || id.length === 0)) throw malformed("invalid message id");
      return { kind: "error", body: value[2], id };
    }
    case EnvelopeKind.credit: {
      const n: unknown = value[2];
      if (value.length !== 3 || typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > ENVELOPE_LIMITS.credit) throw malformed("invalid credit");
      return { kind: "credit", n };
    }
    default:
      throw malformed(`unknown kind ${typeof kind === "number" ? kind : typeof kind}`);
  }
};
