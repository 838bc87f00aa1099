import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { nanos } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { TetherError, type NetworkSubjects } from "../protocols/index.ts";
import type { Logger } from "./logger.ts";
import { ensureStream } from "./jetstream-provisioning.ts";

export interface DurableLaneOptions {
  readonly replicas: number;
  /** JetStream's duplicate window: a message id sent twice within it is stored once. Default 2 min. */
  readonly duplicateWindowMs?: number;
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
  readonly stream: string;

  private constructor(js: JetStreamClient, jsm: JetStreamManager, subjects: NetworkSubjects, logger: Logger) {
    this.#js = js;
    this.#jsm = jsm;
    this.#subjects = subjects;
    this.#logger = logger;
    this.stream = subjects.durableStream();
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: DurableLaneOptions, logger: Logger): Promise<DurableLane> {
    await ensureStream(nc, {
      name: subjects.durableStream(),
      subjects: [subjects.durableAll()],
      num_replicas: options.replicas,
      storage: StorageType.File,
      duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
    });
    return new DurableLane(jetstream(nc), await jetstreamManager(nc), subjects, logger);
  }

  /** Stores a message for `actorId`; resolves once JetStream acknowledged it (deduplicated by `msgId`). */
  async publish(actorId: string, data: Uint8Array, headers: MsgHdrs, msgId: string): Promise<{ duplicate: boolean }> {
    try {
      const ack = await this.#js.publish(this.#subjects.durable(actorId), data, { headers, msgID: msgId });
      return { duplicate: ack.duplicate };
    } catch (cause) {
      throw new TetherError("ERR_TRANSPORT_FAILED", `durable send to ${actorId} was not acknowledged: ${String(cause)}`, { cause });
    }
  }

  /** Starts consuming `actorId`'s durable messages; `stop()` ends it (unacknowledged ones are redelivered later). */
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
    const consumer = await this.#js.consumers.get(this.stream, name);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: Math.min(options.maxAckPending, 256) });
    const done = (async () => {
      for await (const m of messages) {
        try {
          options.onMessage(m);
        } catch (error) {
          this.#logger.error("durable message handler threw", { actorId, seq: m.seq, error });
          m.nak(1_000);
        }
      }
    })();
    return {
      stop: async () => {
        await messages.close().catch(() => undefined);
        await done.catch(() => undefined);
      },
    };
  }
}
