import { nuid, type MsgHdrs } from "@nats-io/transport-node";
import { ROOT_CONTEXT, context as otelContext, type Context } from "@opentelemetry/api";
import { SignedCompensation, HeaderNames, TetherError, encodeSend, isTetherError, messageTypeOf } from "../../protocols/index.ts";
import type { ActorCell, Delivery } from "../actor/actor-cell.ts";
import type { ActorRef, AskOptions } from "../actor/actor-types.ts";
import { outgoingToken, type ExecutionScope, type ScopeToken } from "../actor/execution-scope.ts";
import type { NodeCore } from "../node-core.ts";
import type { DurableLane } from "../stores/durable-lane.ts";
import { contextWithSpan, endSpan, traceHeaderLines, type Tracing } from "../telemetry/tracing.ts";
import type { DeadLetterSink } from "./dead-letter-sink.ts";
import { publishDurable } from "./durable-outbound.ts";
import { refusalOf } from "./inbound.ts";
import { ACTIVE_CONTEXT, Ref, type SendPort } from "./ref.ts";
import type { Replies } from "./replies.ts";
import { classifySchemaError } from "./schema-errors.ts";
import type { TellFlow } from "./tell-flow.ts";
import { tooLarge } from "./wire-errors.ts";
import { encodedHeaders } from "./wire-headers.ts";

/** Finds a local actor that can take messages now (the host's directory). */
export type LocalLookup = (id: string) => ActorCell | undefined;

/** One finished ask: who called whom, how long it took, and the error code if it failed. */
export type CallObserver = (from: string, target: string, durationMs: number, code: string | undefined) => void;

/** The `Execution-Context-Binding` value for a token on one message (undefined: nothing to bind). */
export type MessageBinder = (token: ScopeToken, messageId: string, target: string, data: Uint8Array) => string | undefined;

type SendSpan = ReturnType<Tracing["startSend"]>;

/**
 * Messages leaving an actor or the node: tell and ask to any actor by id (straight into the mailbox
 * when the target is hosted here, over NATS otherwise), durable sends, and the refs that make them.
 */
export class Outbound {
  readonly #core: NodeCore;
  readonly #local: LocalLookup;
  readonly #replies: Replies;
  readonly #sink: DeadLetterSink;
  readonly #lane: DurableLane;
  readonly #flow: TellFlow;
  /** Sees every ask's outcome (cascade detection); undefined costs nothing. */
  callObserver: CallObserver | undefined;
  /** Binds a signed token to each message that leaves the node (set once the assurance room is open). */
  binder: MessageBinder | undefined;

  constructor(
    core: NodeCore,
    local: LocalLookup,
    replies: Replies,
    sink: DeadLetterSink,
    lane: DurableLane,
    flow: TellFlow,
    callObserver: CallObserver | undefined,
  ) {
    this.#core = core;
    this.#flow = flow;
    this.#local = local;
    this.#replies = replies;
    this.#sink = sink;
    this.#lane = lane;
    this.callObserver = callObserver;
  }

  /** A ref sending as `from`; `trace` undefined with `ACTIVE_CONTEXT` takes the caller's active context. */
  ref(id: string, from: string, trace: Context | undefined | typeof ACTIVE_CONTEXT, scope: ExecutionScope | undefined): ActorRef {
    return new Ref(this.#port, id, this.#core.subjects.actor(id), from, trace, scope);
  }

  readonly #port: SendPort = {
    sendDurable: (ref, msg, options) => publishDurable(this.#core, this.#lane, ref.id, msg, ref.from, ref.scope, options?.id, this.binder),
    tell: (ref, msg, options) => this.send(ref.id, ref.subject, msg, false, options, ref.from, this.#parent(ref), ref.scope, false) as boolean,
    ready: (ref) => {
      const local = this.#local(ref.id);
      return local !== undefined ? this.#flow.readyLocal(local) : this.#flow.ready(ref.id);
    },
    ask: (ref, msg, options) => {
      const observer = this.callObserver;
      const metrics = this.#core.metrics;
      const parent = this.#parent(ref);
      if (observer === undefined && !metrics.enabled) return this.send(ref.id, ref.subject, msg, true, options, ref.from, parent, ref.scope, false) as Promise<unknown>;
      const clock = this.#core.clock;
      const started = clock.now();
      const startedHr = metrics.now();
      const result = this.send(ref.id, ref.subject, msg, true, options, ref.from, parent, ref.scope, false) as Promise<unknown>;
      return result.then(
        (value) => {
          metrics.askFinished((metrics.now() - startedHr) / 1000, undefined);
          observer?.(ref.from, ref.id, clock.now() - started, undefined);
          return value;
        },
        (error: unknown) => {
          const code = isTetherError(error) ? error.code : "ERR_TRANSPORT_FAILED";
          metrics.askFinished((metrics.now() - startedHr) / 1000, code);
          observer?.(ref.from, ref.id, clock.now() - started, code);
          throw error;
        },
      );
    },
  };

  #parent(ref: Ref): Context | undefined {
    if (ref.trace !== ACTIVE_CONTEXT) return ref.trace;
    const active = otelContext.active();
    return active === ROOT_CONTEXT ? undefined : active; // no context manager or nothing active: no propagation work
  }

  /** Sends a compensation request to an actor wherever it lives (priority lane) and waits for it to finish. */
  requestCompensation(actorId: string, request: SignedCompensation, timeoutMs: number): Promise<unknown> {
    try {
      return this.send(actorId, this.#core.subjects.actor(actorId), request, true, { priority: true, timeoutMs }, this.#core.self, undefined, undefined, true) as Promise<unknown>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sends a tell or an ask. A tell returns whether the target has room for more (flow control; it
   * throws synchronously when it cannot be sent at all); an ask returns the reply promise.
   */
  send(
    target: string,
    subject: string,
    msg: unknown,
    isAsk: boolean,
    options: AskOptions | undefined,
    from: string,
    parent: Context | undefined,
    scope: ExecutionScope | undefined,
    control: boolean,
  ): Promise<unknown> | boolean {
    this.#core.assertRunning();
    const id = nuid.next();
    const messageType = messageTypeOf(msg);
    const timeoutMs = options?.timeoutMs ?? this.#core.options.askTimeoutMs;
    const tracing = this.#core.tracing;
    const span = tracing.enabled ? tracing.startSend(target, messageType, isAsk ? "ask" : "tell", parent, id) : undefined;
    const traceCtx = contextWithSpan(span, parent);
    const ect = outgoingToken(scope);
    const local = this.#local(target);
    if (local !== undefined) {
      if (scope?.meter !== undefined) scope.meter.messages++;
      return this.#sendLocal(local, subject, msg, messageType, id, isAsk, options, from, traceCtx, timeoutMs, span, ect, control);
    }
    let data: Uint8Array;
    try {
      data = encodeSend(control ? "compensate" : isAsk ? "ask" : "tell", id, from, options?.priority === true, msg);
    } catch (cause) {
      endSpan(span, cause);
      throw new TetherError("ERR_MESSAGE_INVALID", `message to ${target} cannot be encoded: ${String(cause)}`, { cause });
    }
    const max = this.#core.options.maxPayloadBytes;
    if (data.length > max) {
      const error = tooLarge(target, data.length, max);
      endSpan(span, error);
      throw error;
    }
    // headers only for what the ecosystem reads there: W3C trace context and the ECT
    let headers: MsgHdrs | undefined;
    if (traceCtx !== undefined || (ect !== undefined && ect.token !== "")) {
      let lines = traceCtx === undefined ? "" : traceHeaderLines(traceCtx, tracing.propagator);
      if (ect !== undefined && ect.token !== "") {
        lines += `${HeaderNames.executionContext}: ${ect.token}\r\n`;
        if (ect.receipt !== undefined) lines += `${HeaderNames.receipt}: ${ect.receipt}\r\n`;
        const binding = this.binder?.(ect, id, target, data);
        if (binding !== undefined) lines += `${HeaderNames.binding}: ${binding}\r\n`;
      }
      if (lines !== "") headers = encodedHeaders(lines);
    }
    if (scope?.meter !== undefined) {
      scope.meter.messages++;
      scope.meter.bytes += data.length;
    }
    const prefix = this.#replies.prefix;
    // an ask's reply subject is unique (a "no responders" notice must name the ask); a tell's is fixed per target
    const reply = isAsk ? prefix + id : `${prefix}t.${target}`;
    const pending = this.#replies.pending;
    const publish = () => this.#core.nc.publish(subject, data, headers === undefined ? { reply } : { headers, reply });
    const waiting = isAsk ? pending.wait(id, target, timeoutMs, publish) : undefined;
    try {
      publish();
    } catch (cause) {
      const error = new TetherError("ERR_TRANSPORT_FAILED", `publish to ${target} failed: ${String(cause)}`, { cause });
      pending.reject(id, error);
      endSpan(span, error);
      if (waiting === undefined) throw error;
      return waiting;
    }
    this.#core.metrics.sent(control ? "compensate" : isAsk ? "ask" : "tell");
    if (waiting === undefined) {
      span?.end();
      return this.#flow.sent(target);
    }
    return endWith(span, waiting);
  }

  #sendLocal(
    cell: ActorCell,
    subject: string,
    msg: unknown,
    messageType: string | undefined,
    id: string,
    isAsk: boolean,
    options: AskOptions | undefined,
    from: string,
    traceCtx: Context | undefined,
    timeoutMs: number,
    span: SendSpan,
    incoming: ScopeToken | undefined,
    control: boolean,
  ): Promise<unknown> | boolean {
    const metrics = this.#core.metrics;
    const kind = control ? "compensate" : isAsk ? "ask" : "tell";
    metrics.sent(kind); // as a remote send is counted once published, whatever the target then says
    const fail = (error: TetherError, deadLetter: boolean): Promise<unknown> => {
      metrics.rejected(error.code);
      if (deadLetter) this.#sink.write(error.code, error.message, { subject, target: cell.id, kind: isAsk ? "ask" : "tell", messageType, from, messageId: id, data: undefined });
      endSpan(span, error);
      if (isAsk) return Promise.reject(error);
      throw error;
    };
    const refusal = refusalOf(cell, this.#core.clock.now(), control);
    if (refusal !== undefined) return fail(refusal, false);
    const parsed = (control ? SignedCompensation : cell.protocol).safeParse(msg);
    if (!parsed.success) return fail(classifySchemaError(cell.id, messageType, parsed.error), true);
    const delivery: Delivery = { body: parsed.data, messageType, id, from, expectsReply: isAsk, replyTo: undefined, trace: traceCtx, subject, incoming, control };
    const waiting = isAsk ? this.#replies.pending.wait(id, cell.id, timeoutMs) : undefined;
    try {
      cell.enqueue(delivery, options?.priority === true ? "priority" : "normal");
    } catch (error) {
      // a full mailbox here is dead-lettered like a remote one
      const rejected = isTetherError(error) ? error : new TetherError("ERR_MAILBOX_FULL", String(error));
      metrics.rejected(rejected.code);
      this.#sink.write(rejected.code, rejected.message, { subject, target: cell.id, kind: isAsk ? "ask" : "tell", messageType, from, messageId: id, data: undefined });
      endSpan(span, rejected);
      if (waiting === undefined) throw rejected;
      this.#replies.pending.reject(id, rejected);
      return waiting;
    }
    metrics.received(kind, cell.actorClass.name);
    endSpan(span);
    return waiting ?? cell.mailbox.room > 0;
  }
}

/** Ends the send span when the ask settles. */
const endWith = (span: SendSpan, waiting: Promise<unknown>): Promise<unknown> => {
  if (span === undefined) return waiting;
  return waiting.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      endSpan(span, error);
      throw error;
    },
  );
};
