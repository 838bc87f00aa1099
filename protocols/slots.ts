import { z } from "zod";

/** Messages of the shared slot pool actor (`SlotPool`): priority admission to a scarce resource. */
export const SlotMsg = z.discriminatedUnion("type", [
  /** Waits (deferred reply) until a slot of the pool is granted to `holder` in priority class `class`. */
  z.strictObject({ type: z.literal("tether.slots.v1.acquire"), class: z.string().min(1).max(64), holder: z.string().min(1).max(256) }),
  /** Gives a granted slot back. */
  z.strictObject({ type: z.literal("tether.slots.v1.release"), grant: z.string().min(1).max(64) }),
  z.strictObject({ type: z.literal("tether.slots.v1.stats") }),
]);
export type SlotMsg = z.infer<typeof SlotMsg>;

export const SlotGrant = z.strictObject({ grant: z.string(), class: z.string(), holder: z.string(), leaseMs: z.number() });
export type SlotGrant = z.infer<typeof SlotGrant>;
