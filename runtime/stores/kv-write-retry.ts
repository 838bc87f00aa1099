import type { KV } from "@nats-io/kv";
import { systemClock, type Clock } from "../support/clock.ts";

export interface KvWriteRetryOptions {
  /** Keep trying this long after the first "no responders". Default 5 s. */
  readonly deadlineMs?: number;
  /** For the deadline and pauses: the system clock by default (these are waits for a real server). */
  readonly clock?: Clock;
}

/** The KV methods that publish to the bucket's stream (`update` goes through `put`). */
const WRITES: ReadonlySet<PropertyKey> = new Set(["put", "create", "update", "delete", "purge"]);

/**
 * Whether a write failed because nobody received it. nats.js turns a "no responders" answer to a
 * JetStream publish into `JetStreamNotEnabled`; its cause is the request's no-responders error.
 */
export const isUnreceivedWrite = (error: unknown): boolean => {
  if (!(error instanceof Error) || error.name !== "JetStreamNotEnabled") return false;
  const cause = (error as { cause?: { isNoResponders?: () => boolean } }).cause;
  return cause?.isNoResponders?.() === true;
};

/**
 * `kv` whose writes are sent again while the server answers "no responders". Measured on a 3-server
 * cluster with nats-server 2.9.10 (concurrent-start test, 1 round in 20 under suite load): a bucket
 * just created has a stream leader, but the server a node is connected to has not yet learnt the
 * interest of the stream's subjects from its routes, so the first write fails with
 * "JetStreamNotEnabled: jetstream is not enabled". Nobody received such a write, so sending it again
 * cannot store it twice (also for `create` and `update`, whose expected revision still holds).
 */
export const withWriteRetry = (kv: KV, options: KvWriteRetryOptions = {}): KV => {
  const clock = options.clock ?? systemClock;
  const deadlineMs = options.deadlineMs ?? 5_000;
  return new Proxy(kv, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (!WRITES.has(property)) return (value as (...args: unknown[]) => unknown).bind(target);
      const write = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]): Promise<unknown> => {
        const deadline = clock.now() + deadlineMs;
        let pauseMs = 25;
        for (;;) {
          try {
            return await write.apply(target, args);
          } catch (error) {
            if (!isUnreceivedWrite(error) || clock.now() + pauseMs >= deadline) throw error;
          }
          await new Promise<void>((resolve) => clock.setTimeout(resolve, pauseMs));
          pauseMs = Math.min(pauseMs * 2, 500);
        }
      };
    },
  });
};
