import { createInbox, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { unpack } from "msgpackr";

/**
 * The fastest raw request/reply pattern measured in PERFORMANCE.md, the baseline Tether's `ask` is
 * compared against: publish with a reply subject, ONE wildcard inbox subscription for all replies,
 * and a `Map` of pending ids. No `nc.request()` (which builds stack-capturing errors, a timer and a
 * `Promise.race` per call) and no per-request timer: a lost reply is caught by the round's time limit.
 */
export class RawRequester {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #pending = new Map<number, (value: unknown) => void>();
  readonly #sub: Subscription;
  #nextId = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#prefix = `${createInbox()}.`;
    const prefixLength = this.#prefix.length;
    this.#sub = nc.subscribe(`${this.#prefix}*`, {
      callback: (_err, msg) => {
        const id = Number(msg.subject.slice(prefixLength));
        const resolve = this.#pending.get(id);
        if (resolve === undefined) return;
        this.#pending.delete(id);
        resolve(unpack(msg.data));
      },
    });
  }

  get pending(): number {
    return this.#pending.size;
  }

  request(subject: string, data: Uint8Array): Promise<unknown> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#nc.publish(subject, data, { reply: this.#prefix + id });
    });
  }

  close(): void {
    this.#sub.unsubscribe();
    this.#pending.clear();
  }
}
