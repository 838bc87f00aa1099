import type { Msg, MsgHdrs } from "@nats-io/transport-node";
import { HeaderNames } from "../../protocols/index.ts";

const encoder = new TextEncoder();
/** Printable ASCII only: a header value can never carry CR/LF (header injection) or bytes NATS mangles. */
const SAFE_VALUE = /^[\x20-\x7e]{0,4096}$/;

export const isSafeHeaderValue = (value: string): boolean => SAFE_VALUE.test(value);

/**
 * A NATS header block encoded once, by string concatenation. nats.js `publish` only calls
 * `headers.encode()`, so this avoids building a MsgHdrs map and re-validating it per message while
 * keeping Tether's metadata in real NATS headers. Callers pass only values that are safe
 * (ids and tokens Tether generated or validated; see `isSafeHeaderValue`).
 */
class EncodedHeaders {
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  encode(): Uint8Array {
    return this.#bytes;
  }
}

/** `lines` is a sequence of `name: value\r\n` lines (see `headerLine`). */
export const encodedHeaders = (lines: string): MsgHdrs => new EncodedHeaders(encoder.encode(`NATS/1.0\r\n${lines}\r\n`)) as unknown as MsgHdrs;

export const headerLine = (name: string, value: string): string => `${name}: ${value}\r\n`;

/** Constant header blocks, encoded once. */
export const REPLY_HEADERS: MsgHdrs = encodedHeaders(headerLine(HeaderNames.kind, "reply"));
export const errorHeaders = (code: string): MsgHdrs => encodedHeaders(headerLine(HeaderNames.kind, "error") + headerLine(HeaderNames.error, code));

/** Tether's metadata of one inbound message, read in a single pass over its headers. */
export interface InboundMeta {
  /** NATS status code of the header block (e.g. 503 "no responders"), 0 when none. */
  status: number;
  kind: string | undefined;
  id: string | undefined;
  from: string | undefined;
  type: string | undefined;
  priority: boolean;
  traceparent: string | undefined;
  tracestate: string | undefined;
  executionContext: string | undefined;
  receipt: string | undefined;
}

const EXECUTION_CONTEXT_LOWER = HeaderNames.executionContext.toLowerCase();

const emptyMeta = (): InboundMeta => ({
  status: 0,
  kind: undefined,
  id: undefined,
  from: undefined,
  type: undefined,
  priority: false,
  traceparent: undefined,
  tracestate: undefined,
  executionContext: undefined,
  receipt: undefined,
});

const assign = (m: InboundMeta, key: string, v: string): void => {
  switch (key) {
    case HeaderNames.kind:
      m.kind = v;
      return;
    case HeaderNames.id:
      m.id = v || undefined;
      return;
    case HeaderNames.from:
      m.from = v || undefined;
      return;
    case HeaderNames.type:
      m.type = v || undefined;
      return;
    case HeaderNames.priority:
      m.priority = v === "1";
      return;
    case HeaderNames.traceparent:
      m.traceparent = v;
      return;
    case HeaderNames.tracestate:
      m.tracestate = v;
      return;
    case HeaderNames.receipt:
      m.receipt = v || undefined;
      return;
    case HeaderNames.executionContext:
      m.executionContext = v || undefined;
      return;
    default:
      // other implementations may spell the ECT header in another case (HTTP header names are case-insensitive)
      if (key.length === EXECUTION_CONTEXT_LOWER.length && key.toLowerCase() === EXECUTION_CONTEXT_LOWER) m.executionContext = v || undefined;
  }
};

/** The shape nats.js 3.x messages have inside: raw bytes and the header length. */
interface RawMsg {
  readonly _msg?: { readonly hdr?: unknown };
  readonly _rdata?: unknown;
}

/**
 * Parses a raw NATS header block (`NATS/1.0…\r\nk: v\r\n…`) the way nats.js does (first value of a
 * key wins in `get`; values trimmed), without building a header map. Exported for the contract test.
 */
export const parseHeaderBlock = (block: Uint8Array): InboundMeta => {
  const m = emptyMeta();
  const text = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString("utf8");
  let at = text.indexOf("\r\n");
  if (at < 0) return m;
  // status line: "NATS/1.0" or "NATS/1.0 503 [description]"
  const code = Number.parseInt(text.slice(8, at).trim(), 10);
  if (Number.isInteger(code)) m.status = code;
  const seen = new Set<string>();
  while (at < text.length) {
    const start = at + 2;
    const end = text.indexOf("\r\n", start);
    const line = end < 0 ? text.slice(start) : text.slice(start, end);
    at = end < 0 ? text.length : end;
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon);
    if (seen.has(key)) continue; // like MsgHdrs.get: the first value of a repeated key
    seen.add(key);
    assign(m, key, line.slice(colon + 1).trim());
  }
  return m;
};

/**
 * Tether's metadata of one inbound message. Reads the raw header bytes when the message has the
 * nats.js 3.x shape (no header map is built), and falls back to the public `msg.headers` otherwise.
 */
export const readMsgMeta = (msg: Msg): InboundMeta => {
  const raw = msg as unknown as RawMsg;
  const hdr = raw._msg?.hdr;
  if (typeof hdr === "number" && raw._rdata instanceof Uint8Array) {
    return hdr > 0 ? parseHeaderBlock(raw._rdata.subarray(0, hdr)) : emptyMeta();
  }
  return readInboundMeta(msg.headers);
};

export const readInboundMeta = (h: MsgHdrs | undefined): InboundMeta => {
  const m = emptyMeta();
  if (h === undefined) return m;
  m.status = h.code;
  for (const [key, values] of h) {
    const v = values[0];
    if (v !== undefined) assign(m, key, v);
  }
  return m;
};
