import { z } from "zod";

/**
 * Edge statistics a node publishes each interval for cascade detection (`tether.<net>.cascade.edges`):
 * caller → target, calls and failures (errors or slow calls) since its last report.
 */
export const EdgeReport = z.strictObject({
  type: z.literal("tether.cascade.v1.edges"),
  node: z.string().max(128),
  at: z.number(),
  edges: z.array(z.tuple([z.string().max(256), z.string().max(128), z.number().int().nonnegative(), z.number().int().nonnegative()])).max(10_000),
});
export type EdgeReport = z.infer<typeof EdgeReport>;
