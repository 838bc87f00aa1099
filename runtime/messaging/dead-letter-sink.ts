import { nuid } from "@nats-io/transport-node";
import type { DeadLetterRecord, ErrorCode } from "../../protocols/index.ts";
import type { NodeCore } from "../node-core.ts";
import type { DeadLetters } from "../stores/dead-letters.ts";

/** What is known of a message that could not be delivered. */
export interface UndeliveredMessage {
  readonly subject: string;
  readonly target: string | undefined;
  readonly kind: string | undefined;
  readonly messageType: string | undefined;
  readonly from: string | undefined;
  readonly messageId: string | undefined;
  readonly data: Uint8Array | undefined;
}

/** Turns every message that never reached its actor into a bounded dead-letter record and an event. */
export class DeadLetterSink {
  readonly #core: NodeCore;
  readonly #store: DeadLetters;

  constructor(core: NodeCore, store: DeadLetters) {
    this.#core = core;
    this.#store = store;
  }

  write(code: ErrorCode, reason: string, m: UndeliveredMessage): void {
    const record: DeadLetterRecord = {
      type: "tether.deadletter.v1",
      id: nuid.next(),
      ...(m.messageId === undefined || m.messageId === "" ? {} : { messageId: m.messageId.slice(0, 128) }),
      code,
      reason: reason.slice(0, 4096),
      network: this.#core.network,
      node: this.#core.id,
      subject: m.subject.slice(0, 512),
      ...(m.target === undefined ? {} : { target: m.target }),
      ...(m.kind === undefined ? {} : { kind: m.kind.slice(0, 16) }),
      ...(m.messageType === undefined ? {} : { messageType: m.messageType.slice(0, 256) }),
      ...(m.from === undefined ? {} : { from: m.from.slice(0, 256) }),
      size: m.data?.length ?? 0,
      payloadPreview: m.data === undefined ? "" : Buffer.from(m.data.subarray(0, 4096)).toString("base64"),
      at: this.#core.clock.now(),
    };
    this.#core.metrics.deadLetter(code);
    if (!this.#core.nc.isClosed()) this.#store.write(record);
    else this.#core.logger.error("dead letter after close", { record });
    this.#core.emit({ type: "dead-letter", record });
  }

  /** Waits for dead-letter writes in flight to be stored. */
  flush(): Promise<void> {
    return this.#store.flush();
  }
}
