import type { Msg } from "@nats-io/transport-node";
import { nuid } from "@nats-io/transport-node";
import type { Context } from "@opentelemetry/api";
import { CompensationRequest, HeaderNames, TetherError, decodeBody, isTetherError, messageTypeOf } from "../../protocols/index.ts";
import type { ActorCell, Delivery } from "../actor/actor-cell.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import type { NodeCore } from "../node-core.ts";
import { contextFromTraceparent, contextWithSpan } from "../telemetry/tracing.ts";
import type { DeadLetterSink } from "./dead-letter-sink.ts";
import type { Replies } from "./replies.ts";
import { classifySchemaError } from "./schema-errors.ts";
import { tooLarge } from "./wire-errors.ts";
import { readMsgMeta, type InboundMeta } from "./wire-headers.ts";

/** Verifies the ECT a message carries (the assurance room's inbound link). */
export type VerifyIncoming = (token: string, receipt: string | undefined, actorId: string, messageId: string) => Promise<ScopeToken>;

/** The actor's refusal of new messages (paused or stopping), checked at the moment a message arrives. */
export const refusalOf = (cell: ActorCell, now: number, control: boolean): TetherError | undefined => {
  if (!control && cell.pausedUntil > 0 && now < cell.pausedUntil) {
    return new TetherError("ERR_ACTOR_PAUSED", `actor ${cell.id} is paused (quarantined) until ${new Date(cell.pausedUntil).toISOString()}`, {
      details: { actorId: cell.id, until: cell.pausedUntil },
    });
  }
  if (cell.state === "stopping" || cell.state === "stopped") return new TetherError("ERR_ACTOR_STOPPED", `actor ${cell.id} is stopping`);
  return undefined;
};

/**
 * Messages arriving for a local actor over NATS: size and envelope checks, the actor's schema, the
 * ECT verification link (asynchronous, but deliveries keep their arrival order), then the mailbox.
 * Whatever cannot be delivered gets an error reply to its sender and a dead-letter record.
 */
export class Inbound {
  readonly #core: NodeCore;
  readonly #replies: Replies;
  readonly #sink: DeadLetterSink;
  readonly #verify: VerifyIncoming;

  constructor(core: NodeCore, replies: Replies, sink: DeadLetterSink, verify: VerifyIncoming) {
    this.#core = core;
    this.#replies = replies;
    this.#sink = sink;
    this.#verify = verify;
  }

  /** The subscription callback of an actor's subject. Never throws (nats.js would close its reader). */
  receive(cell: ActorCell, msg: Msg): void {
    try {
      this.#receive(cell, msg);
    } catch (error) {
      this.#core.logger.error("inbound message dropped: unexpected failure", { actorId: cell.id, subject: msg.subject.slice(0, 256), error });
    }
  }

  #receive(cell: ActorCell, msg: Msg): void {
    const meta = readMsgMeta(msg);
    const id = meta.id ?? nuid.next();
    const control = meta.kind === "compensate";
    const isAsk = meta.kind === "ask" || control;
    const options = this.#core.options;
    if (msg.data.length > options.maxPayloadBytes) {
      this.reject(cell, msg, meta, id, meta.type, tooLarge(cell.id, msg.data.length, options.maxPayloadBytes));
      return;
    }
    if (meta.kind !== "tell" && !isAsk) {
      this.reject(cell, msg, meta, id, meta.type, new TetherError("ERR_MESSAGE_MALFORMED", `message to ${cell.id} has no valid ${HeaderNames.kind} header`));
      return;
    }
    let body: unknown;
    try {
      body = decodeBody(msg.data);
    } catch (error) {
      this.reject(cell, msg, meta, id, meta.type, error as TetherError);
      return;
    }
    const messageType = messageTypeOf(body) ?? meta.type;
    const parsed = (control ? CompensationRequest : cell.protocol).safeParse(body);
    if (!parsed.success) {
      this.reject(cell, msg, meta, id, messageType, classifySchemaError(cell.id, messageType, parsed.error));
      return;
    }
    let trace: Context | undefined;
    const tracing = this.#core.tracing;
    if (tracing.enabled) {
      const remote = contextFromTraceparent(meta.traceparent, meta.tracestate);
      const span = tracing.startReceive(cell.id, messageType, remote);
      trace = contextWithSpan(span, remote);
      span?.end();
    }
    const delivery: Delivery = {
      body: parsed.data,
      messageType,
      id,
      from: meta.from,
      expectsReply: isAsk,
      replyTo: isAsk && msg.reply ? msg.reply : undefined,
      trace,
      subject: msg.subject,
      incoming: undefined,
      control,
    };
    if (meta.executionContext === undefined && cell.inboundPending === 0) {
      this.#accept(cell, msg, meta, delivery); // fast path: nothing to verify, nothing queued ahead
      return;
    }
    // Verification is asynchronous; deliveries still reach the mailbox in arrival order.
    const token = meta.executionContext;
    const verified = token === undefined ? Promise.resolve(undefined) : this.#verify(token, meta.receipt, cell.id, id);
    // The chain below handles the rejection when this message's turn comes; mark it handled now so a
    // token that fails before earlier messages finish is never an unhandled rejection (a process crash).
    verified.catch(() => undefined);
    cell.inboundPending++;
    cell.inboundTail = cell.inboundTail
      .then(() => verified)
      .then(
        (incoming) => this.#accept(cell, msg, meta, incoming === undefined ? delivery : { ...delivery, incoming }),
        (error: unknown) =>
          this.reject(
            cell,
            msg,
            meta,
            id,
            messageType,
            isTetherError(error) ? error : new TetherError("ERR_ECT_MALFORMED", `execution context rejected: ${String(error)}`, { cause: error }),
          ),
      )
      .catch((error: unknown) => this.#core.logger.error("inbound delivery failed", { actorId: cell.id, id, error })) // keep the chain healthy
      .finally(() => {
        cell.inboundPending--;
      });
  }

  #accept(cell: ActorCell, msg: Msg, meta: InboundMeta, delivery: Delivery): void {
    const refusal = refusalOf(cell, this.#core.clock.now(), delivery.control);
    if (refusal !== undefined) {
      this.reject(cell, msg, meta, delivery.id, delivery.messageType, refusal);
      return;
    }
    try {
      cell.enqueue(delivery, meta.priority ? "priority" : "normal");
    } catch (error) {
      this.reject(cell, msg, meta, delivery.id, delivery.messageType, error as TetherError);
    }
  }

  /** A message that never reaches the actor: error reply to the sender (ask or tell) and a dead letter. */
  reject(cell: ActorCell, msg: Msg, meta: InboundMeta, id: string, messageType: string | undefined, error: TetherError): void {
    if (msg.reply) this.#replies.publishError(msg.reply, error);
    this.#sink.write(error.code, error.message, {
      subject: msg.subject,
      target: cell.id,
      kind: meta.kind,
      messageType,
      from: meta.from,
      messageId: id,
      data: msg.data,
    });
  }
}
