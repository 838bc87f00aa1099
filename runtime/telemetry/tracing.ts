import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  createTraceState,
  trace,
  type Context,
  type Span,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { HeaderNames } from "../../protocols/index.ts";

/** Minimal header access shared by NATS `MsgHdrs` and plain maps. */
export interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * W3C trace-context propagation over NATS headers. No published OpenTelemetry instrumentation exists
 * for nats.js, so this is the small helper: `traceparent`/`tracestate` in, remote span context out.
 */
export const injectTraceContext = (ctx: Context, headers: HeaderCarrier): void => {
  const span = trace.getSpan(ctx);
  if (span === undefined) return;
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return;
  headers.set(HeaderNames.traceparent, `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`);
  const state = sc.traceState?.serialize();
  if (state) headers.set(HeaderNames.tracestate, state);
};

export const extractTraceContext = (headers: HeaderCarrier | undefined): Context | undefined =>
  contextFromTraceparent(headers?.get(HeaderNames.traceparent), headers?.get(HeaderNames.tracestate));

/** The remote context named by a `traceparent` (and optional `tracestate`) value; undefined when invalid. */
export const contextFromTraceparent = (traceparent: string | undefined, tracestate: string | undefined): Context | undefined => {
  if (!traceparent) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (m === null) return undefined;
  const [, traceId = "", spanId = "", flags = "00"] = m;
  const sc = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true, ...(tracestate ? { traceState: createTraceState(tracestate) } : {}) };
  if (!trace.isSpanContextValid(sc)) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, sc);
};

/** `traceparent`/`tracestate` header lines for a context, or "" when it has no valid span. */
export const traceHeaderLines = (ctx: Context): string => {
  const sc = trace.getSpan(ctx)?.spanContext();
  if (sc === undefined || !trace.isSpanContextValid(sc)) return "";
  const state = sc.traceState?.serialize();
  return `${HeaderNames.traceparent}: 00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}\r\n${state ? `${HeaderNames.tracestate}: ${state}\r\n` : ""}`;
};

/**
 * Spans for send, receive and handle. Disabled (zero work on the message path) unless a
 * TracerProvider is passed to the node.
 */
export class Tracing {
  readonly enabled: boolean;
  readonly #tracer: Tracer | undefined;

  constructor(provider: TracerProvider | undefined, readonly network: string) {
    this.enabled = provider !== undefined;
    this.#tracer = provider?.getTracer("tether-agents", "0.1.0");
  }

  startSend(target: string, messageType: string | undefined, kind: string, parent: Context | undefined): Span | undefined {
    return this.#tracer?.startSpan(
      `send ${target}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "send",
          "messaging.destination.name": target,
          "tether.network": this.network,
          "tether.message.kind": kind,
          ...(messageType === undefined ? {} : { "tether.message.type": messageType }),
        },
      },
      parent ?? ROOT_CONTEXT,
    );
  }

  startReceive(actorId: string, messageType: string | undefined, parent: Context | undefined): Span | undefined {
    return this.#tracer?.startSpan(
      `receive ${actorId}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "receive",
          "messaging.destination.name": actorId,
          "tether.network": this.network,
          ...(messageType === undefined ? {} : { "tether.message.type": messageType }),
        },
      },
      parent ?? ROOT_CONTEXT,
    );
  }

  startHandle(actorId: string, messageType: string | undefined, parent: Context | undefined): Span | undefined {
    return this.#tracer?.startSpan(
      `handle ${actorId}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { "tether.actor.id": actorId, ...(messageType === undefined ? {} : { "tether.message.type": messageType }) },
      },
      parent ?? ROOT_CONTEXT,
    );
  }
}

export const contextWithSpan = (span: Span | undefined, base: Context | undefined): Context | undefined =>
  span === undefined ? base : trace.setSpan(base ?? ROOT_CONTEXT, span);

export const endSpan = (span: Span | undefined, error?: unknown): void => {
  if (span === undefined) return;
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
};
