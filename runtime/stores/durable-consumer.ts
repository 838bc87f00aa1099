import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type Consumer,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import type { Clock, TimerHandle } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";

/** How a durable consumer notices that it stalled and how fast it comes back. */
export interface DurableConsumerTiming {
  /** `idle_heartbeat` of each pull: the consumer leader sends one when it has nothing to deliver. */
  readonly heartbeatMs: number;
  /** `expires` of each pull request; the client pulls again when one expires. */
  readonly expiresMs: number;
  /** Nothing (message, heartbeat or pull status) from the server this long: re-attach. */
  readonly stallMs: number;
  /** Backoff between failed re-attach attempts: doubles from `restartInitialMs` up to `restartMaxMs`, ±20 % jitter. */
  readonly restartInitialMs: number;
  readonly restartMaxMs: number;
}

export interface DurableConsumerDeps {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly actorId: string;
  /** The consumer's full config (`durable_name` set), used if it must be created again. */
  readonly config: Partial<ConsumerConfig> & { durable_name: string };
  /** Messages per pull. */
  readonly batch: number;
  readonly onMessage: (msg: JsMsg) => void;
  readonly timing: DurableConsumerTiming;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
}

const isApiError = (error: unknown, code: number): boolean => error instanceof JetStreamApiError && error.code === code;

/**
 * Keeps one durable actor's JetStream pull consumer consuming, across server and leader loss.
 *
 * Why this exists: a pull request lives only in the memory of the consumer's leader. When that
 * server is SIGKILLed, its open pulls vanish without a word, and nats.js 3.4 `consume()` notices
 * only through missed heartbeats: by default `idle_heartbeat` is `expires / 2` = 15 s and two must
 * be missed, then it re-checks with `consumer.info()` and, if that fails mid-election, waits a whole
 * `expires` (30 s) before trying again; while disconnected it pauses the check. On a 3-node 2.9.10
 * cluster, actors whose consumer leader was killed were reported stalled for up to 59 s, and in
 * test/integration/durable-recovery.test.ts they were still stalled 15 s after the cluster was back.
 * Here pulls ask for a 1 s heartbeat, and a session is thrown away and re-attached (the consumer
 * re-created if it is gone) on missed heartbeats, a deleted or missing consumer, an ended or failed
 * iterator, or `stallMs` of silence from the server, with bounded backoff between attempts.
 *
 * Acknowledgement is untouched: messages are handed to `onMessage` and acked (after the checkpoint)
 * by the caller, whichever session delivered them; what a lost session had delivered but nobody
 * acknowledged is redelivered by JetStream after `ack_wait`.
 */
export class DurableConsumer {
  readonly #d: DurableConsumerDeps;
  #session: ConsumerMessages | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #done: Promise<void> = Promise.resolve();
  /** The last ack floor seen, so a re-created consumer starts there, not at the stream's first message. */
  #ackFloor = 0;

  private constructor(deps: DurableConsumerDeps) {
    this.#d = deps;
  }

  /** Attaches once (errors reach the caller, e.g. a failing spawn), then keeps the consumer alive until `stop()`. */
  static async start(deps: DurableConsumerDeps): Promise<DurableConsumer> {
    const consumer = new DurableConsumer(deps);
    const first = await consumer.#open();
    consumer.#done = consumer.#run(first.messages);
    return consumer;
  }

  /** Ends consumption; messages delivered but not yet acknowledged are redelivered later. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#session?.stop();
    this.#wake?.();
    await this.#done;
  }

  async #run(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    let attempt = 0;
    let brokenAt = 0;
    let reason = "";
    while (!this.#stopped) {
      if (messages === undefined) {
        attempt++;
        await this.#sleep(this.#backoff(attempt));
        if (this.#stopped) break;
        try {
          const opened = await this.#open();
          messages = opened.messages;
          this.#d.logger.info("durable consumer re-attached", {
            actorId: this.#d.actorId,
            reason,
            attempts: attempt,
            recreated: opened.recreated,
            downMs: this.#d.clock.now() - brokenAt,
          });
        } catch (error) {
          this.#d.logger.warn("durable consumer re-attach failed; retrying", { actorId: this.#d.actorId, attempt, error: String(error) });
          continue;
        }
        if (this.#stopped) {
          messages.stop();
          break;
        }
      }
      const outcome = await this.#consume(messages);
      messages = undefined;
      if (this.#stopped) break;
      if (outcome.heard) attempt = 0; // it worked for a while: start the backoff afresh
      brokenAt = this.#d.clock.now();
      reason = outcome.reason;
      this.#d.logger.warn("durable consumer stalled; re-attaching", { actorId: this.#d.actorId, reason });
    }
  }

  /** Gets the consumer (creating it again if it was lost) and starts a pull session on it. */
  async #open(): Promise<{ messages: ConsumerMessages; recreated: boolean }> {
    const { js, jsm, stream, config, batch, timing } = this.#d;
    let consumer: Consumer;
    let recreated = false;
    try {
      consumer = await js.consumers.get(stream, config.durable_name);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      // gone (deleted, or lost with its servers): create it again from the last ack floor we saw;
      // anything acknowledged since is in the actor's checkpointed dedup list, so at-least-once holds
      const from = this.#ackFloor > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#ackFloor + 1 } : {};
      await jsm.consumers.add(stream, { ...config, ...from });
      consumer = await js.consumers.get(stream, config.durable_name);
      recreated = true;
    }
    const info = await consumer.info(true);
    this.#ackFloor = Math.max(this.#ackFloor, info.ack_floor.stream_seq);
    const messages = await consumer.consume({ max_messages: batch, expires: timing.expiresMs, idle_heartbeat: timing.heartbeatMs });
    this.#session = messages;
    return { messages, recreated };
  }

  /** Delivers one session's messages until it ends or is judged stalled; says why, and whether the server ever spoke. */
  async #consume(messages: ConsumerMessages): Promise<{ reason: string; heard: boolean }> {
    const { clock, timing, onMessage, logger, actorId } = this.#d;
    let reason: string | undefined;
    let heard = false;
    let lastHeard = clock.now();
    const hear = () => {
      heard = true;
      lastHeard = clock.now();
    };
    const breakOff = (why: string) => {
      reason ??= why;
      messages.stop();
    };
    const watchdog: TimerHandle = clock.setInterval(() => {
      const silentMs = clock.now() - lastHeard;
      if (silentMs > timing.stallMs) breakOff(`nothing from the server for ${silentMs} ms`);
    }, timing.heartbeatMs);
    watchdog.unref?.();
    void (async () => {
      for await (const s of messages.status()) {
        switch (s.type) {
          case "heartbeats_missed":
            breakOff(`${s.count} heartbeats missed`);
            break;
          case "consumer_deleted":
          case "consumer_not_found":
          case "stream_not_found":
            breakOff(s.type);
            break;
          case "next": // our own pull request, not a sign of life from the server
            break;
          default:
            hear(); // a heartbeat, an expired pull, or another status the server sent
        }
      }
    })().catch(() => undefined);
    try {
      for await (const m of messages) {
        hear();
        try {
          onMessage(m);
        } catch (error) {
          logger.error("durable message handler threw", { actorId, seq: m.seq, error });
          m.nak(1_000);
        }
      }
    } catch (error) {
      reason ??= `consume failed: ${String(error)}`;
    } finally {
      clock.clearInterval(watchdog);
      if (this.#session === messages) this.#session = undefined;
    }
    return { reason: reason ?? "consume iterator ended", heard };
  }

  #backoff(attempt: number): number {
    const { restartInitialMs, restartMaxMs } = this.#d.timing;
    const base = Math.min(restartMaxMs, restartInitialMs * 2 ** (attempt - 1));
    return Math.round(base * (0.8 + 0.4 * this.#d.random()));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#d.clock.setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        this.#d.clock.clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
