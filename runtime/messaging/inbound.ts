import type { Msg } from "@nats-io/transport-node";
import { nuid } from "@nats-io/transport-node";
import type { Context } from "@opentelemetry/api";
import { SignedCompensation, TetherError, decodeEnvelope, isTetherError, messageTypeOf, type WireEnvelope } from "../../protocols/index.ts";
import type { ActorCell, Delivery } from "../actor/actor-cell.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import type { IncomingMessage } from "../assurance/incoming-verifier.ts";
import type { NodeCore } from "../node-core.ts";
import { contextWithSpan, extractTraceContext } from "../telemetry/tracing.ts";
import type { DeadLetterSink } from "./dead-letter-sink.ts";
import type { Replies } from "./replies.ts";
import { classifySchemaError } from "./schema-errors.ts";
import { tooLarge } from "./wire-errors.ts";
import { RecentAsks } from "./recent-asks.ts";
import { readWireHeaders } from "./wire-headers.ts";

type SendEnvelope = Extract<WireEnvelope, { kind: "tell" | "ask" | "compensate" }>;

/** Verifies the ECT a message carries, its binding to the message and its receipt (the assurance room's inbound link). */
export type VerifyIncoming = (message: IncomingMessage) => Promise<ScopeToken | undefined>;

/** The actor's refusal of new messages (paused or stopping), checked at the moment a message arrives. */
export const refusalOf = (cell: ActorCell, now: number, control: boolean): TetherError | undefined => {
  if (!control && (cell.holds.has("stop") || cell.holds.has("takeover"))) {
    return new TetherError("ERR_ACTOR_STOPPED_BY_OVERRIDE", `actor ${cell.id} was stopped by an operator's override; it takes no new work until the override is lifted`, {
      details: { actorId: cell.id },
    });
  }
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

  readonly #requiresToken: boolean;
  readonly #recentAsks = new RecentAsks();

  /** `requiresToken`: messages without an ECT go through `verify` too (a node whose minimum level is above L1 refuses them). */
  constructor(core: NodeCore, replies: Replies, sink: DeadLetterSink, verify: VerifyIncoming, requiresToken = false) {
    this.#core = core;
    this.#replies = replies;
    this.#sink = sink;
    this.#verify = verify;
    this.#requiresToken = requiresToken;
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
    const data = msg.data;
    const max = this.#core.options.maxPayloadBytes;
    if (data.length > max) {
      this.reject(cell, msg, undefined, tooLarge(cell.id, data.length, max));
      return;
    }
    let envelope: WireEnvelope;
    try {
      envelope = decodeEnvelope(data);
    } catch (error) {
      this.reject(cell, msg, undefined, error as TetherError);
      return;
    }
    if (envelope.kind !== "tell" && envelope.kind !== "ask" && envelope.kind !== "compensate") {
      this.reject(cell, msg, undefined, new TetherError("ERR_MESSAGE_MALFORMED", `message to ${cell.id} is a ${envelope.kind} envelope, not a tell or an ask`));
      return;
    }
    const control = envelope.kind === "compensate";
    const isAsk = envelope.kind !== "tell";
    if (isAsk && msg.reply && !this.#recentAsks.first(cell.id, msg.reply)) {
      this.#core.logger.debug("a copy of an ask already received dropped", { actorId: cell.id, id: envelope.id });
      return;
    }
    const messageType = messageTypeOf(envelope.body);
    const parsed = (control ? SignedCompensation : cell.protocol).safeParse(envelope.body);
    if (!parsed.success) {
      this.reject(cell, msg, envelope, classifySchemaError(cell.id, messageType, parsed.error));
      return;
    }
    // headers only when tracing or an ECT put them there; nats.js decodes them only when present
    const h = readWireHeaders(msg.headers);
    let trace: Context | undefined;
    const tracing = this.#core.tracing;
    if (tracing.enabled) {
      const remote = msg.headers === undefined ? undefined : extractTraceContext(msg.headers, tracing.propagator);
      const span = tracing.startReceive(cell.id, messageType, remote, envelope.id);
      trace = contextWithSpan(span, remote);
      span?.end();
    }
    const reply = msg.reply || undefined;
    const delivery: Delivery = {
      body: parsed.data,
      messageType,
      id: envelope.id,
      from: envelope.from,
      expectsReply: isAsk,
      replyTo: isAsk ? reply : undefined,
      creditTo: isAsk ? undefined : reply,
      trace,
      subject: msg.subject,
      incoming: undefined,
      control,
    };
    const token = h.executionContext;
    // control messages are authenticated by their own signature (the control guard), not by an ECT
    const needsVerify = token !== undefined || (this.#requiresToken && !control);
    if (!needsVerify && cell.inboundPending === 0) {
      this.#accept(cell, msg, envelope, delivery); // fast path: nothing to verify, nothing queued ahead
      return;
    }
    // Verification is asynchronous; deliveries still reach the mailbox in arrival order.
    const verified = needsVerify
      ? this.#verify({ token, receipt: h.receipt, binding: h.binding, actorId: cell.id, messageId: envelope.id, data })
      : Promise.resolve(undefined);
    // The chain below handles the rejection when this message's turn comes; mark it handled now so a
    // token that fails before earlier messages finish is never an unhandled rejection (a process crash).
    verified.catch(() => undefined);
    cell.inboundPending++;
    cell.inboundTail = cell.inboundTail
      .then(() => verified)
      .then(
        (incoming) => this.#accept(cell, msg, envelope, incoming === undefined ? delivery : { ...delivery, incoming }),
        (error: unknown) =>
          this.reject(
            cell,
            msg,
            envelope,
            isTetherError(error) ? error : new TetherError("ERR_ECT_MALFORMED", `execution context rejected: ${String(error)}`, { cause: error }),
          ),
      )
      .catch((error: unknown) => this.#core.logger.error("inbound delivery failed", { actorId: cell.id, id: envelope.id, error })) // keep the chain healthy
      .finally(() => {
        cell.inboundPending--;
      });
  }

  #accept(cell: ActorCell, msg: Msg, envelope: SendEnvelope, delivery: Delivery): void {
    const refusal = refusalOf(cell, this.#core.clock.now(), delivery.control);
    if (refusal !== undefined) {
      this.reject(cell, msg, envelope, refusal);
      return;
    }
    try {
      cell.enqueue(delivery, envelope.priority ? "priority" : "normal");
    } catch (error) {
      this.reject(cell, msg, envelope, error as TetherError);
      return;
    }
    this.#core.metrics.received(envelope.kind, cell.actorClass.name);
  }

  /**
   * A message that never reaches the actor: an error to the sender (an ask's reply, or a tell's
   * rejection report with its id, which also returns the tell's flow-control credit) and a dead letter.
   * `envelope` is undefined when the bytes could not be read as one.
   */
  reject(cell: ActorCell, msg: Msg, envelope: SendEnvelope | undefined, error: TetherError): void {
    const id = envelope?.id ?? nuid.next();
    const isTell = envelope?.kind === "tell";
    this.#core.metrics.rejected(error.code);
    if (msg.reply) this.#replies.publishError(msg.reply, error, isTell ? id : undefined);
    this.#sink.write(error.code, error.message, {
      subject: msg.subject,
      target: cell.id,
      kind: envelope?.kind,
      messageType: envelope === undefined ? undefined : messageTypeOf(envelope.body),
      from: envelope?.from,
      messageId: id,
      data: msg.data,
    });
  }
}
