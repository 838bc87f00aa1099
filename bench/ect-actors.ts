import { z } from "zod";
import { Actor, AuditLedger, type AuditLedgerDeps } from "../actors/index.ts";
import type { AuditMsg } from "../protocols/index.ts";
import type { ActorContext } from "../runtime/index.ts";

const Hop = z.strictObject({ actor: z.string().max(128), action: z.string().max(128) });

/** One workflow step request: the hops still to run, the first of them being the receiving actor's. */
export const HopMsg = z.strictObject({ type: z.literal("step"), hops: z.array(Hop).min(1).max(10), seq: z.number().int() });
export type HopMsg = z.infer<typeof HopMsg>;

/**
 * The workflow actor of `bench ect` (the same shape as the test suite's `Stepper`): performs the first
 * hop's action with `ctx.act` (one ECT per step; in the regulated profile appended to the ledger before
 * `act` returns), then asks the next hop's actor with the remaining hops. Replies with the number of
 * actions the chain performed from here on, so the driver can check every step ran.
 */
export class Hopper extends Actor<HopMsg> {
  static override readonly protocol = HopMsg;

  async handle(msg: HopMsg, ctx: ActorContext): Promise<number> {
    const [hop, ...rest] = msg.hops;
    if (hop === undefined) return 0;
    await ctx.act(hop.action, { seq: msg.seq, by: ctx.self }, () => msg.seq);
    const next = rest[0];
    if (next === undefined) return 1;
    const downstream = await ctx.ref<typeof Hopper>(next.actor).ask({ type: "step", hops: rest, seq: msg.seq });
    return 1 + downstream;
  }
}

/** What the instrumented ledger saw: append asks, entries, and the time spent handling them. */
export class LedgerTally {
  asks = 0;
  entries = 0;
  maxBatch = 0;
  busyMs = 0;
  #since = performance.now();

  reset(): void {
    this.asks = 0;
    this.entries = 0;
    this.maxBatch = 0;
    this.busyMs = 0;
    this.#since = performance.now();
  }

  /** `asks, mean batch, busy share of wall time` since the last reset. */
  summary(): string {
    const wall = performance.now() - this.#since;
    const mean = this.asks === 0 ? 0 : this.entries / this.asks;
    return `${this.asks} append asks carrying ${this.entries} entries (mean batch ${mean.toFixed(2)}, max ${this.maxBatch}); the ledger actor was handling a message ${((100 * this.busyMs) / wall).toFixed(0)}% of the wall time, ${this.entries === 0 ? "-" : ((1000 * this.busyMs) / this.entries).toFixed(0)} µs per entry`;
  }
}

/**
 * The audit ledger actor, unchanged, plus a tally of the batches it receives and of the time its
 * `handle` runs (two `performance.now()` calls per message): the evidence for where regulated time goes.
 */
export class TalliedAuditLedger extends AuditLedger {
  readonly #tally: LedgerTally;

  constructor(deps: AuditLedgerDeps, tally: LedgerTally) {
    super(deps);
    this.#tally = tally;
  }

  override async handle(msg: AuditMsg, ctx: ActorContext): ReturnType<AuditLedger["handle"]> {
    if (msg.type === "tether.audit.v1.append") {
      this.#tally.asks++;
      this.#tally.entries += msg.entries.length;
      this.#tally.maxBatch = Math.max(this.#tally.maxBatch, msg.entries.length);
    }
    const t0 = performance.now();
    try {
      return await super.handle(msg, ctx);
    } finally {
      this.#tally.busyMs += performance.now() - t0;
    }
  }
}
