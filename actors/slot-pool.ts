import { randomUUID } from "node:crypto";
import { SlotMsg, type SlotGrant } from "../protocols/index.ts";
import type { ActorContext, TimerHandle } from "../runtime/index.ts";
import { AdmissionPool, type AdmissionPoolOptionsInput, type PoolStats } from "../supervisors/index.ts";
import { Actor } from "./actor.ts";

/**
 * A shared, scarce resource (e.g. inference slots) as an actor any agent on any node can ask:
 * `acquire` waits (a deferred reply, so the pool keeps serving releases meanwhile) until the
 * AdmissionPool grants a slot by priority class and weighted fair share, with its starvation bound.
 * A grant not released within `leaseMs` (its holder crashed) is taken back.
 */
export class SlotPool extends Actor<SlotMsg> {
  static override readonly protocol = SlotMsg;
  static override readonly capabilities = ["slots"];
  readonly #options: AdmissionPoolOptionsInput;
  readonly #leaseMs: number;
  #pool: AdmissionPool | undefined;
  readonly #grants = new Map<string, { release: () => void; timer: TimerHandle; ctxClock: ActorContext["clock"] }>();

  constructor(options: AdmissionPoolOptionsInput, leaseMs = 60_000) {
    super();
    this.#options = options;
    this.#leaseMs = leaseMs;
  }

  handle(msg: SlotMsg, ctx: ActorContext): { released: boolean } | PoolStats | undefined {
    this.#pool ??= new AdmissionPool(this.#options, ctx.clock);
    switch (msg.type) {
      case "tether.slots.v1.acquire": {
        const reply = ctx.deferReply();
        this.#pool.acquire(msg.class).then(
          (release) => {
            const grant = randomUUID();
            const timer = ctx.clock.setTimeout(() => this.#release(grant), this.#leaseMs);
            timer.unref?.();
            this.#grants.set(grant, { release, timer, ctxClock: ctx.clock });
            const granted: SlotGrant = { grant, class: msg.class, holder: msg.holder, leaseMs: this.#leaseMs };
            reply.resolve(granted);
          },
          (error: unknown) => reply.reject(error),
        );
        return undefined;
      }
      case "tether.slots.v1.release":
        return { released: this.#release(msg.grant) };
      case "tether.slots.v1.stats":
        return this.#pool.stats();
    }
  }

  #release(grant: string): boolean {
    const g = this.#grants.get(grant);
    if (g === undefined) return false;
    this.#grants.delete(grant);
    g.ctxClock.clearTimeout(g.timer);
    g.release();
    return true;
  }
}
