import { z } from "zod";
import { Advertisement } from "./capabilities.ts";
import { KeyPublishRequest, KeyRevokeRequest } from "./keys.ts";

/** Registry record of one actor: who owns it, under which node lease. Stored as JSON in JetStream KV. */
export const ActorRecord = z.strictObject({
  type: z.literal("tether.registry.v1.actor"),
  actorId: z.string().max(128),
  nodeId: z.string().max(128),
  /** The owning node's lease epoch when the claim was made (fencing). */
  nodeEpoch: z.number().int().nonnegative(),
  /** Class name of the actor implementation. */
  className: z.string().max(256),
  capabilities: z.array(z.string().max(128)).max(64),
  /** Versioned capabilities and protocols (absent in records written before discovery existed). */
  advertise: Advertisement.optional(),
  spawnedAt: z.number().int(),
});
export type ActorRecord = z.infer<typeof ActorRecord>;

/** Registry record of one node: its lease, renewed by heartbeat. */
export const NodeRecord = z.strictObject({
  type: z.literal("tether.registry.v1.node"),
  nodeId: z.string().max(128),
  network: z.string().max(128),
  /** Increases every time a node with this id starts; ownership claims carry it. */
  epoch: z.number().int().nonnegative(),
  startedAt: z.number().int(),
  heartbeatAt: z.number().int(),
  /** The node counts as dead when now > heartbeatAt + leaseTtlMs. */
  leaseTtlMs: z.number().int().positive(),
  host: z.string().max(256),
  pid: z.number().int(),
  actorCount: z.number().int().nonnegative(),
});
export type NodeRecord = z.infer<typeof NodeRecord>;

export const isLeaseAlive = (node: NodeRecord, now: number): boolean => now <= node.heartbeatAt + node.leaseTtlMs;

/** Sent to a node's control subject by the node that took one of its actors over. */
export const FenceNotice = z.strictObject({
  type: z.literal("tether.node.v1.fence"),
  actorId: z.string().max(128),
  by: z.string().max(128),
});
export type FenceNotice = z.infer<typeof FenceNotice>;

/** Asks a node (on its control subject) to activate an actor of a registered type from its checkpoint. */
export const ActivateRequest = z.strictObject({
  type: z.literal("tether.node.v1.activate"),
  actorId: z.string().max(128),
  className: z.string().max(256),
  /** Start from the class's initial state instead of the checkpoint (a supervisor's restart). */
  fresh: z.boolean().optional(),
});
export type ActivateRequest = z.infer<typeof ActivateRequest>;

/** Asks a node to stop one of its actors gracefully (a supervisor stopping a remote child). */
export const StopRequest = z.strictObject({ type: z.literal("tether.node.v1.stop"), actorId: z.string().max(128) });
export type StopRequest = z.infer<typeof StopRequest>;

/** Published on `tether.<net>.failures.<actorId>` when an actor's handler throws. */
export const FailureNotice = z.strictObject({
  type: z.literal("tether.node.v1.failure"),
  actorId: z.string().max(128),
  nodeId: z.string().max(128),
  messageId: z.string().max(128),
  code: z.string().max(64),
});
export type FailureNotice = z.infer<typeof FailureNotice>;

/** Pauses (quarantines) an actor until `until` (epoch ms), or resumes it. */
export const PauseRequest = z.strictObject({ type: z.literal("tether.node.v1.pause"), actorId: z.string().max(128), until: z.number().int().nonnegative() });
export type PauseRequest = z.infer<typeof PauseRequest>;

/**
 * What a node's control subject carries, always inside a signed `ControlEnvelope` (control.ts):
 * a bare body is refused with ERR_CONTROL_UNSIGNED.
 */
export const NodeControl = z.discriminatedUnion("type", [FenceNotice, ActivateRequest, StopRequest, PauseRequest, KeyPublishRequest, KeyRevokeRequest]);
export type NodeControl = z.infer<typeof NodeControl>;
