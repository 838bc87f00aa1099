import { z } from "zod";

/** A circuit breaker's state. */
export const BreakerState = { closed: "closed", open: "open", halfOpen: "half_open" } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/**
 * A breaker's shareable state, kept per target in the JetStream KV bucket `tether_<net>_breakers`.
 * Parse values read from the store with this schema before `applyRemote`. `openUntil` is epoch ms on the
 * clock of the node that opened it. The merge rule is `compareBreakerSnapshots` (supervisors/).
 */
export const BreakerSnapshot = z.strictObject({
  type: z.literal("tether.breaker.v1.snapshot"),
  state: z.enum(BreakerState),
  /** Counts transitions; every local transition sets it to one more than the highest seen. */
  generation: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** When the transition that produced this state happened. */
  changedAt: z.number().finite(),
  /** While open: when half-open probing may start. Otherwise null. */
  openUntil: z.number().finite().nullable(),
  /** The node whose transition produced this state. */
  origin: z.string().max(256),
});
export type BreakerSnapshot = z.output<typeof BreakerSnapshot>;
