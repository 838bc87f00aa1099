import type { JsMsg } from "@nats-io/jetstream";
import { TetherError, decodeEnvelope, isTetherError, messageTypeOf, type WireEnvelope } from "../../protocols/index.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import type { ActorCell, Delivery, ReplyOutcome } from "../actor/actor-cell.ts";
import type { DeadLetterSink } from "../messaging/dead-letter-sink.ts";
import type { VerifyIncoming } from "../messaging/inbound.ts";
import { readWireHeaders } from "../messaging/wire-headers.ts";
import { classifySchemaError } from "../messaging/schema-errors.ts";
import type { NodeCore } from "../node-core.ts";
import type { DurableLane } from "../stores/durable-lane.ts";
import type { Checkpoints } from "./checkpoints.ts";

/** Marks kept before the acknowledgement floor is asked for (and marks at or below it dropped). */
const PRUNE_AFTER = 64;
/** At most one floor query per actor in this period. */
const PRUNE_EVERY_MS = 1_000;
/*
 * TERM: messages are terminated without a reason (the dead-letter record carries it). nats-server
 * 2.9.10 does not understand `+TERM <reason>`: it leaves the message unacknowledged, redelivers it up
 * to max_deliver times (a dead letter each time), and once delivery stops the message stays pending
 * for good, so the ack floor stops and the dedup marks above it are never pruned.
 */

/**
 * The at-least-once lane (`ref.send`) as a node hosts it (publishing is messaging/durable-outbound.ts):
 * one pull consumer per durable actor, skipping redeliveries whose effects the actor's checkpoint already
 * includes, and acknowledging only after the state that includes a message is saved.
 *
 * Stored messages use the same envelope as the live lane (`protocols/wire-envelope.ts`, kind `tell`), so
 * a stream written by one version is read by the next like any other message; the only headers are
 * JetStream's own `Nats-Msg-Id` (deduplication) and the ECT when the profile mints tokens.
 */
export class DurableDelivery {
  readonly #core: NodeCore;
  readonly #lane: DurableLane;
  readonly #checkpoints: Checkpoints;
  readonly #sink: DeadLetterSink;
  readonly #consumers = new Map<string, { stop(): Promise<void> }>();
  readonly #lastPrune = new Map<string, number>();
  /**
   * The same token checks as the live lane (set once the assurance room is open): a message stored
   * straight on the stream subject by a plain client, without a token or with a forged or captured
   * one, is refused and dead-lettered, never handed to the actor.
   */
  verify: VerifyIncoming | undefined;
  /** Messages without a token are checked too (and refused) when the node's minimum level is above L1. */
  requiresToken = false;

  constructor(core: NodeCore, lane: DurableLane, checkpoints: Checkpoints, sink: DeadLetterSink) {
    this.#core = core;
    this.#lane = lane;
    this.#checkpoints = checkpoints;
    this.#sink = sink;
  }

  /** Starts consuming a durable actor's lane; its mailbox bound is the number in flight. */
  async attach(cell: ActorCell, capacity: number): Promise<void> {
    const options = this.#core.options;
    this.#consumers.set(
      cell.id,
      await this.#lane.attach(cell.id, {
        ackWaitMs: options.durableAckWaitMs,
        maxDeliver: options.durableMaxDeliver,
        maxAckPending: capacity,
        onMessage: (jm) => this.#onMessage(cell, jm),
      }),
    );
  }

  /** Stops consuming (unacknowledged messages are redelivered to the next owner). */
  async detach(id: string): Promise<void> {
    const consumer = this.#consumers.get(id);
    this.#consumers.delete(id);
    this.#lastPrune.delete(id);
    await consumer?.stop().catch(() => undefined);
  }

  /** A durable message for a local actor: skip what its checkpoint already includes, else queue it. */
  #onMessage(cell: ActorCell, jm: JsMsg): void {
    if (cell.state !== "running") {
      jm.nak(); // stopping, moving or fenced: the next owner gets it
      return;
    }
    if (cell.holds.size > 0) {
      jm.nak(1_000); // held by an override (stop, pause, fencing): kept in JetStream until released
      return;
    }
    const now = this.#core.clock.now();
    if (cell.pausedUntil > 0 && now < cell.pausedUntil) {
      jm.nak(Math.max(100, cell.pausedUntil - now)); // kept in JetStream until the pause ends
      return;
    }
    let envelope: WireEnvelope;
    try {
      envelope = decodeEnvelope(jm.data);
      if (envelope.kind !== "tell") throw new TetherError("ERR_MESSAGE_MALFORMED", `durable message to ${cell.id} is a ${envelope.kind} envelope, not a tell`);
    } catch (error) {
      const e = error as TetherError;
      this.#core.metrics.rejected(e.code);
      this.#sink.write(e.code, e.message, { subject: jm.subject, target: cell.id, kind: "send", messageType: undefined, from: undefined, messageId: `seq-${jm.seq}`, data: jm.data });
      jm.term(); // no reason: see TERM at the top of this file
      return;
    }
    const { id, from, body } = envelope;
    if (this.#checkpoints.includes(cell.id, id, jm.seq)) {
      // its effects are already in the state: acknowledge once a checkpoint that includes them is saved
      // (the original's save may still be in flight; acknowledging before it lands could lose it)
      this.#checkpoints.whenSaved(cell.id).then(
        () => jm.ack(),
        () => jm.nak(1_000),
      );
      return;
    }
    const messageType = messageTypeOf(body);
    const reject = (error: TetherError) => {
      this.#core.metrics.rejected(error.code);
      this.#sink.write(error.code, error.message, { subject: jm.subject, target: cell.id, kind: "send", messageType, from, messageId: id, data: jm.data });
      jm.term(); // no reason: see TERM at the top of this file
    };
    const parsed = cell.protocol.safeParse(body);
    if (!parsed.success) {
      reject(classifySchemaError(cell.id, messageType, parsed.error));
      return;
    }
    const delivery: Delivery = {
      body: parsed.data,
      messageType,
      id,
      from,
      expectsReply: false,
      replyTo: undefined,
      trace: undefined,
      subject: jm.subject,
      incoming: undefined,
      control: false,
      durable: jm,
    };
    const h = readWireHeaders(jm.headers);
    const token = h.executionContext;
    const verify = this.verify;
    if (verify === undefined || (token === undefined && !this.requiresToken)) {
      if (cell.inboundPending === 0) this.#enqueue(cell, jm, delivery);
      else this.#afterPending(cell, Promise.resolve(undefined), jm, delivery, reject);
      return;
    }
    const verified = verify({ token, receipt: h.receipt, binding: h.binding, actorId: cell.id, messageId: id, data: jm.data, sequence: jm.seq });
    verified.catch(() => undefined); // handled in turn below; never an unhandled rejection
    this.#afterPending(cell, verified, jm, delivery, reject);
  }

  /** Verification is asynchronous; deliveries still reach the mailbox in arrival order (the live lane's queue). */
  #afterPending(cell: ActorCell, verified: Promise<ScopeToken | undefined>, jm: JsMsg, delivery: Delivery, reject: (error: TetherError) => void): void {
    cell.inboundPending++;
    cell.inboundTail = cell.inboundTail
      .then(() => verified)
      .then(
        (incoming) => this.#enqueue(cell, jm, incoming === undefined ? delivery : { ...delivery, incoming }),
        (error: unknown) => reject(isTetherError(error) ? error : new TetherError("ERR_ECT_MALFORMED", `execution context rejected: ${String(error)}`, { cause: error })),
      )
      .catch((error: unknown) => this.#core.logger.error("durable delivery failed", { actorId: cell.id, id: delivery.id, error }))
      .finally(() => {
        cell.inboundPending--;
      });
  }

  #enqueue(cell: ActorCell, jm: JsMsg, delivery: Delivery): void {
    if (cell.state !== "running") {
      jm.nak();
      return;
    }
    try {
      cell.enqueue(delivery, "normal");
      this.#core.metrics.received("send", cell.actorClass.name);
    } catch {
      jm.nak(1_000); // mailbox full: JetStream keeps it and redelivers (backpressure, not loss)
    }
  }

  /**
   * True when the actor's state already includes this durable message: a copy JetStream redelivered
   * (its ack wait ran out) while the original still waited in the mailbox. Both copies passed the check
   * on arrival; the handler must run for the first only. `settle` still acknowledges the copy.
   */
  applied(cell: ActorCell, delivery: Delivery): boolean {
    return delivery.durable !== undefined && this.#checkpoints.includes(cell.id, delivery.id, (delivery.durable as JsMsg).seq);
  }

  /** After a durable message was handled: save state that includes it, then acknowledge; or ask for redelivery. */
  async settle(cell: ActorCell, delivery: Delivery, outcome: ReplyOutcome): Promise<void> {
    const jm = delivery.durable as JsMsg;
    if (!outcome.ok) {
      if (jm.info.deliveryCount >= this.#core.options.durableMaxDeliver) {
        this.#sink.write(outcome.error.code, `given up after ${jm.info.deliveryCount} deliveries: ${outcome.error.message}`, {
          subject: jm.subject,
          target: cell.id,
          kind: "send",
          messageType: delivery.messageType,
          from: delivery.from,
          messageId: delivery.id,
          data: jm.data,
        });
        jm.term(); // no reason: see TERM at the top of this file
      } else jm.nak(Math.min(500 * jm.info.deliveryCount, 10_000));
      return;
    }
    const copy = this.#checkpoints.includes(cell.id, delivery.id, jm.seq); // see applied(): not handled again
    if (!copy) {
      this.#checkpoints.markProcessed(cell.id, { id: delivery.id, seq: jm.seq });
      if (this.#checkpoints.processedCount(cell.id) > PRUNE_AFTER) this.#prune(cell.id);
    }
    try {
      await (copy ? this.#checkpoints.whenSaved(cell.id) : this.#checkpoints.save(cell));
      jm.ack();
    } catch (error) {
      this.#core.logger.warn("checkpoint after a durable message failed; it will be redelivered", { actorId: cell.id, id: delivery.id, error });
      jm.nak(1_000);
    }
  }

  /** Drops dedup marks JetStream will never redeliver (at or below the consumer's ack floor); throttled. */
  #prune(id: string): void {
    const now = this.#core.clock.now();
    if (now - (this.#lastPrune.get(id) ?? 0) < PRUNE_EVERY_MS) return;
    this.#lastPrune.set(id, now);
    this.#lane.ackFloor(id).then(
      (floor) => this.#checkpoints.pruneProcessed(id, floor),
      (error: unknown) => this.#core.logger.debug("ack floor query failed; dedup marks kept", { actorId: id, error }),
    );
  }
}
