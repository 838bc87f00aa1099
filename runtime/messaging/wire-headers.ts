import type { MsgHdrs } from "@nats-io/transport-node";
import { HeaderNames } from "../../protocols/index.ts";

const encoder = new TextEncoder();
/** Printable ASCII only: a header value can never carry CR/LF (header injection) or bytes NATS mangles. */
const SAFE_VALUE = /^[\x20-\x7e]{0,4096}$/;

export const isSafeHeaderValue = (value: string): boolean => SAFE_VALUE.test(value);

/**
 * A NATS header block encoded once, by string concatenation. nats.js `publish` only calls
 * `headers.encode()`, so this avoids building a MsgHdrs map and re-validating it per message.
 * Used only when a message carries something the ecosystem reads in headers (W3C trace context,
 * the Execution Context Token); Tether's own metadata is in the body (`protocols/wire-envelope.ts`).
 * Callers pass only values that are safe (see `isSafeHeaderValue`).
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

/** The headers Tether reads on an inbound message (most messages have none). */
export interface WireHeaders {
  /** NATS status code of the header block (e.g. 503 "no responders"), 0 when none. */
  readonly status: number;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  readonly executionContext: string | undefined;
  readonly receipt: string | undefined;
  readonly binding: string | undefined;
}

export const NO_HEADERS: WireHeaders = { status: 0, traceparent: undefined, tracestate: undefined, executionContext: undefined, receipt: undefined, binding: undefined };

const EXECUTION_CONTEXT_LOWER = HeaderNames.executionContext.toLowerCase();

/**
 * Reads the headers of a message through the client's public `msg.headers` (decoded by nats.js only
 * when the message has a header block). The first value of a repeated key wins; the ECT header is
 * matched case-insensitively (HTTP header names are, and other implementations may spell it otherwise).
 */
export const readWireHeaders = (h: MsgHdrs | undefined): WireHeaders => {
  if (h === undefined) return NO_HEADERS;
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  let executionContext: string | undefined;
  let receipt: string | undefined;
  let binding: string | undefined;
  for (const [key, values] of h) {
    const v = values[0]?.trim();
    if (v === undefined || v === "") continue;
    if (key === HeaderNames.traceparent) traceparent ??= v;
    else if (key === HeaderNames.tracestate) tracestate ??= v;
    else if (key === HeaderNames.receipt) receipt ??= v;
    else if (key === HeaderNames.binding) binding ??= v;
    else if (key.length === EXECUTION_CONTEXT_LOWER.length && key.toLowerCase() === EXECUTION_CONTEXT_LOWER) executionContext ??= v;
  }
  return { status: h.code, traceparent, tracestate, executionContext, receipt, binding };
};
