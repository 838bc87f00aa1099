import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import {
  AckPolicy,
  DiscardPolicy,
  DeliverPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { TetherError, type NetworkSubjects } from "../../protocols/index.ts";
import { systemClock, type Clock } from "../support/clock.ts";
import { DurableConsumer, type DurableConsumerTiming } from "./durable-consumer.ts";
import type { Logger } from "../support/logger.ts";
import { ensureStream } from "./jetstream-provisioning.ts";

/**
 * Stall detection and re-attach timing. A consumer leader's loss is noticed after two missed
 * heartbeats (2–3 s); an R3 election on nats-server 2.9.10 takes 4.8–7.3 s, which the backoff
 * (0.25, 0.5, 1, 2, 4, 5 s…) rides out in a few attempts.
 */
const defaultConsumerTiming: DurableConsumerTiming = {
  heartbeatMs: 1_000,
  expiresMs: 10_000,
  stallMs: 5_000,
  restartInitialMs: 250,
  restartMaxMs: 5_000,
};

export interface DurableLaneOptions {
  readonly replicas: number;
  /** JetStream's duplicate window: a message id sent twice within it is stored once. Default 2 min. */
  readonly duplicateWindowMs?: number;
  /** Explicit size limit (reserved on every replica); when full, new sends are refused. */
  readonly maxBytes?: number;
  /** How consumers detect a stall and re-attach; default `defaultConsumerTiming`. */
  readonly consumerTiming?: Partial<DurableConsumerTiming>;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Backoff jitter; default `Math.random`. */
  readonly random?: () => number;
}

export interface DurableAttachOptions {
  /** How long a delivered, unacknowledged message waits before JetStream redelivers it. */
  readonly ackWaitMs: number;
  /** Deliveries before a message is given up (and dead-lettered by the caller). */
  readonly maxDeliver: number;
  /** Messages in flight to this actor (its mailbox bound is the natural choice). */
  readonly maxAckPending: number;
  readonly onMessage: (msg: JsMsg) => void;
}

/**
 * The at-least-once lane (`ref.send`): one JetStream stream per network (`TETHER_<net>_DURABLE`,
 * subjects `tether.<net>.durable.<actorId>`), one durable pull consumer per durable actor
 * (`a_<actorId>`). A message acknowledged by `send` is stored (replicated on a cluster) and survives
 * the loss of the node that was to handle it: whichever node hosts the actor next consumes it.
 */
export class DurableLane {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #subjects: NetworkSubjects;
  readonly #logger: Logger;
  readonly #timing: DurableConsumerTiming;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly stream: string;

  private constructor(js: JetStreamClient, jsm: JetStreamManager, subjects: NetworkSubjects, options: DurableLaneOptions, logger: Logger) {
    this.#js = js;
    this.#jsm = jsm;
    this.#subjects = subjects;
    this.#logger = logger;
    this.#timing = { ...defaultConsumerTiming, ...options.consumerTiming };
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.stream = subjects.durableStream();
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: DurableLaneOptions, logger: Logger): Promise<DurableLane> {
    await ensureStream(nc, {
      name: subjects.durableStream(),
      subjects: [subjects.durableAll()],
      num_replicas: options.replicas,
      storage: StorageType.File,
      duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
      // full: new sends are refused (the sender's await rejects), never old messages dropped
      ...(options.maxBytes === undefined ? {} : { max_bytes: options.maxBytes, discard: DiscardPolicy.New }),
    });
    return new DurableLane(jetstream(nc), await jetstreamManager(nc), subjects, options, logger);
  }

  /** Stores a message for `actorId`; resolves once JetStream acknowledged it (deduplicated by `msgId`). */
  async publish(actorId: string, data: Uint8Array, headers: MsgHdrs | undefined, msgId: string): Promise<{ duplicate: boolean }> {
    try {
      const ack = await this.#js.publish(this.#subjects.durable(actorId), data, headers === undefined ? { msgID: msgId } : { headers, msgID: msgId });
      return { duplicate: ack.duplicate };
    } catch (cause) {
      throw new TetherError("ERR_TRANSPORT_FAILED", `durable send to ${actorId} was not acknowledged: ${String(cause)}`, { cause });
    }
  }

  /**
   * The stream sequence below which every message of `actorId`'s consumer is acknowledged: JetStream
   * never redelivers those, so dedup marks at or below it can be dropped.
   */
  async ackFloor(actorId: string): Promise<number> {
    const info = await this.#jsm.consumers.info(this.stream, `a_${actorId}`);
    return info.ack_floor.stream_seq;
  }

  /**
   * Starts consuming `actorId`'s durable messages and keeps consuming across server and leader loss
   * (see `DurableConsumer`); `stop()` ends it (unacknowledged ones are redelivered later).
   */
  async attach(actorId: string, options: DurableAttachOptions): Promise<{ stop(): Promise<void> }> {
    const name = `a_${actorId}`;
    const config = {
      durable_name: name,
      filter_subject: this.#subjects.durable(actorId),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(options.ackWaitMs),
      max_deliver: options.maxDeliver,
      max_ack_pending: options.maxAckPending,
    };
    const existing = await this.#jsm.consumers.info(this.stream, name).catch(() => undefined);
    if (existing === undefined) await this.#jsm.consumers.add(this.stream, config);
    else await this.#jsm.consumers.update(this.stream, name, { ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: config.max_ack_pending });
    const consumer = await DurableConsumer.start({
      js: this.#js,
      jsm: this.#jsm,
      stream: this.stream,
      actorId,
      config,
      batch: Math.min(options.maxAckPending, 256),
      onMessage: options.onMessage,
      timing: this.#timing,
      clock: this.#clock,
      random: this.#random,
      logger: this.#logger,
    });
    return { stop: () => consumer.stop() };
  }
}
