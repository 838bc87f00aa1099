import { z } from "zod";
import { Actor } from "../actors/index.ts";
import type { ActorContext } from "../runtime/index.ts";

/** The benchmark message: a sequence number and an opaque payload (128 bytes in the core suite). */
export const Ping = z.strictObject({ type: z.literal("ping"), seq: z.number().int(), payload: z.instanceof(Uint8Array) });
export type Ping = z.infer<typeof Ping>;

/** Counts messages and calls `onTarget` once the expected number has arrived. */
export class MessageCounter {
  count = 0;
  #expected = Number.POSITIVE_INFINITY;
  #onTarget: (() => void) | undefined;

  arm(expected: number, onTarget: () => void): void {
    this.count = 0;
    this.#expected = expected;
    this.#onTarget = onTarget;
  }

  hit(): void {
    if (++this.count === this.#expected) this.#onTarget?.();
  }
}

/** Receives tells and counts them (the Tether side of the tell benchmark). */
export class Sink extends Actor<Ping> {
  static override readonly protocol = Ping;
  readonly #counter: MessageCounter;

  constructor(counter: MessageCounter) {
    super();
    this.#counter = counter;
  }

  handle(_msg: Ping, _ctx: ActorContext): void {
    this.#counter.hit();
  }
}

/** Answers each ask with the message's sequence number (the Tether side of the ask benchmark). */
export class Echo extends Actor<Ping> {
  static override readonly protocol = Ping;

  handle(msg: Ping, _ctx: ActorContext): number {
    return msg.seq;
  }
}

export const Probe = z.strictObject({ type: z.literal("probe") });
export type Probe = z.infer<typeof Probe>;

/** An idle actor that only answers a probe with its own id (the scale suite). */
export class Idle extends Actor<Probe> {
  static override readonly protocol = Probe;

  handle(_msg: Probe, ctx: ActorContext): string {
    return ctx.self;
  }
}
