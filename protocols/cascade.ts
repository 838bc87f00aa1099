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

/** The cascade monitor actor's messages: judge the window now, or take in a node's edge report. */
export const CascadeEvaluate = z.strictObject({ type: z.literal("tether.cascade.v1.evaluate") });
export const CascadeMonitorMessage = z.discriminatedUnion("type", [CascadeEvaluate, EdgeReport]);
export type CascadeMonitorMessage = z.infer<typeof CascadeMonitorMessage>;

/** The cascade monitor actor's checkpoint: which agents are quarantined until when (survives failover). */
export const CascadeMonitorState = z.strictObject({
  type: z.literal("tether.cascade.v1.state"),
  quarantinedUntil: z.record(z.string().max(128), z.number()),
});
export type CascadeMonitorState = z.infer<typeof CascadeMonitorState>;
