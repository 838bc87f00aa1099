import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, DiscardPolicy, StorageType, type JetStreamClient } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { encodeBody, type DeadLetterRecord, type NetworkSubjects } from "../../protocols/index.ts";
import type { Logger } from "../support/logger.ts";
import { ensureStream } from "./jetstream-provisioning.ts";

export interface DeadLettersOptions {
  readonly replicas: number;
  readonly maxAgeMs: number;
  /** Explicit size limit (JetStream reserves it on every replica); the oldest records go first. */
  readonly maxBytes: number;
  readonly logger: Logger;
}

/**
 * Writes dead-letter records to the network's JetStream DLQ stream (`tether.<net>.dlq.<code>`).
 * Writes never block the message path; `flush()` waits for those in flight (shutdown, tests).
 */
export class DeadLetters {
  readonly #js: JetStreamClient;
  readonly #subjects: NetworkSubjects;
  readonly #logger: Logger;
  readonly #inFlight = new Set<Promise<void>>();

  private constructor(js: JetStreamClient, subjects: NetworkSubjects, logger: Logger) {
    this.#js = js;
    this.#subjects = subjects;
    this.#logger = logger;
  }

  static async open(nc: NatsConnection, subjects: NetworkSubjects, options: DeadLettersOptions): Promise<DeadLetters> {
    await ensureStream(nc, {
      name: subjects.deadLetterStream(),
      subjects: [subjects.deadLetterAll()],
      num_replicas: options.replicas,
      max_age: nanos(options.maxAgeMs),
      max_msgs: 1_000_000,
      max_bytes: options.maxBytes,
      discard: DiscardPolicy.Old,
      storage: StorageType.File,
    });
    return new DeadLetters(jetstream(nc), subjects, options.logger);
  }

  /** Stores a record (asynchronously). A failure to store is logged at error level, never swallowed. */
  write(record: DeadLetterRecord): void {
    const p = this.#js
      .publish(this.#subjects.deadLetter(record.code), encodeBody(record), { msgID: record.id })
      .then(
        () => undefined,
        (error: unknown) => this.#logger.error("dead letter could not be stored", { record, error }),
      )
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  async flush(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }
}
