import {
  ROOT_CONTEXT,
  context,
  SpanKind,
  SpanStatusCode,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";

/** Minimal header access shared by NATS `MsgHdrs` and plain maps. */
export interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
  keys?(): string[];
}

/** nats.js `MsgHdrs` (and any `HeaderCarrier`) as an OpenTelemetry carrier; `get` returns "" for a missing key. */
const headerGetter: TextMapGetter<HeaderCarrier> = {
  get: (carrier, key) => carrier.get(key) || undefined,
  keys: (carrier) => carrier.keys?.() ?? [],
};
const headerSetter: TextMapSetter<HeaderCarrier> = { set: (carrier, key, value) => carrier.set(key, value) };

/** Raw NATS header lines (`key: value\r\n`), the form outbound writes without building a MsgHdrs. */
interface LineSink {
  lines: string;
}
const lineSetter: TextMapSetter<LineSink> = { set: (sink, key, value) => void (sink.lines += `${key}: ${value}\r\n`) };

/**
 * Injects the context (trace context, baggage: whatever the propagator writes) into headers. The
 * propagator is the global one by default, so `OTEL_PROPAGATORS` set up by the SDK applies.
 */
export const injectTraceContext = (ctx: Context, headers: HeaderCarrier, propagator: TextMapPropagator = propagation): void =>
  propagator.inject(ctx, headers, headerSetter);

/** The remote context carried by the headers, or undefined when they carry no valid span context. */
export const extractTraceContext = (headers: HeaderCarrier | undefined, propagator: TextMapPropagator = propagation): Context | undefined => {
  if (headers === undefined) return undefined;
  const ctx = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
  return ctx === ROOT_CONTEXT ? undefined : ctx;
};

/** Messaging semantic-convention operation names (https://opentelemetry.io/docs/specs/semconv/messaging/). */
const Operation = { send: "send", receive: "receive", process: "process" } as const;
/** Low-cardinality destination template: one per kind of subject, never per actor id. */
const ACTOR_DESTINATION = "tether.actor";

/**
 * Spans for send, receive and process, `ctx.act`, rollback and supervisor restarts. The tracer comes
 * from the global TracerProvider unless one is passed; with the API's no-op provider (no SDK
 * registered) each start returns a non-recording span, which is dropped at once so the message
 * path writes no headers and allocates no contexts.
 */
export class Tracing {
  /** False only when tracing is known to be off; callers still check the span each start returns. */
  readonly enabled = true;
  readonly #tracer: Tracer;
  readonly #server: Attributes;

  constructor(
    provider: TracerProvider | undefined,
    readonly network: string,
    readonly propagator: TextMapPropagator = propagation,
    server: { address?: string; port?: number } = {},
  ) {
    this.#tracer = (provider ?? trace.getTracerProvider()).getTracer("tether-agents", "0.1.0");
    this.#server = {
      ...(server.address === undefined ? {} : { "server.address": server.address }),
      ...(server.port === undefined ? {} : { "server.port": server.port }),
    };
  }

  #start(name: string, kind: SpanKind, attributes: Attributes, parent: Context | undefined): Span | undefined {
    const span = this.#tracer.startSpan(name, { kind, attributes }, parent ?? ROOT_CONTEXT);
    // the no-op tracer hands back the parent's context (or an invalid one): nothing to record or pass on
    return span.isRecording() ? span : undefined;
  }

  #messaging(operation: keyof typeof Operation, actorId: string, messageType: string | undefined, messageId: string | undefined): Attributes {
    return {
      "messaging.system": "nats",
      "messaging.operation.name": operation,
      "messaging.operation.type": operation,
      "messaging.destination.name": ACTOR_DESTINATION,
      "tether.actor.id": actorId,
      "tether.network": this.network,
      ...this.#server,
      ...(messageId === undefined ? {} : { "messaging.message.id": messageId }),
      ...(messageType === undefined ? {} : { "tether.message.type": messageType }),
    };
  }

  startSend(target: string, messageType: string | undefined, kind: string, parent: Context | undefined, messageId?: string): Span | undefined {
    return this.#start(
      `${Operation.send} ${ACTOR_DESTINATION}`,
      SpanKind.PRODUCER,
      { ...this.#messaging("send", target, messageType, messageId), "tether.message.kind": kind },
      parent,
    );
  }

  startReceive(actorId: string, messageType: string | undefined, parent: Context | undefined, messageId?: string): Span | undefined {
    return this.#start(`${Operation.receive} ${ACTOR_DESTINATION}`, SpanKind.CONSUMER, this.#messaging("receive", actorId, messageType, messageId), parent);
  }

  startHandle(actorId: string, messageType: string | undefined, parent: Context | undefined, messageId?: string): Span | undefined {
    return this.#start(`${Operation.process} ${ACTOR_DESTINATION}`, SpanKind.CONSUMER, this.#messaging("process", actorId, messageType, messageId), parent);
  }

  /** A span around `ctx.act`: the action name is low-cardinality, the workflow id and ECT jti are attributes. */
  startAct(actorId: string, action: string, wid: string | undefined, jti: string | undefined, parent: Context | undefined): Span | undefined {
    return this.#start(`act ${action}`, SpanKind.INTERNAL, {
      "tether.actor.id": actorId,
      "tether.action": action,
      ...(wid === undefined ? {} : { "tether.workflow.id": wid }),
      ...(jti === undefined ? {} : { "tether.ect.jti": jti }),
    }, parent);
  }

  /** A span for an internal runtime operation (rollback, supervisor restart). */
  startInternal(name: string, attributes: Attributes, parent: Context | undefined): Span | undefined {
    return this.#start(name, SpanKind.INTERNAL, attributes, parent);
  }
}

/** Header lines for what the propagator writes (traceparent, tracestate, baggage…), or "". */
export const traceHeaderLines = (ctx: Context, propagator: TextMapPropagator = propagation): string => {
  const sink: LineSink = { lines: "" };
  propagator.inject(ctx, sink, lineSetter);
  return sink.lines;
};

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

/**
 * Runs `work` inside an internal span named `name` (a child of the active context), ended with its
 * outcome. Costs nothing without an OTel SDK (the span is not recording: `work` runs as is).
 */
export const traced = async <T>(tracing: Tracing, name: string, attributes: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T> => {
  const span = tracing.startInternal(name, attributes, context.active());
  if (span === undefined || !span.isRecording()) {
    span?.end();
    return work();
  }
  try {
    const result = await context.with(trace.setSpan(context.active(), span), work);
    span.end();
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
};
