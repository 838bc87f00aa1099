import { z } from "zod";
import { ControlEnvelope } from "./control.ts";

const Id = z.string().min(1).max(128);

/**
 * Messages of a supervisor actor (`SupervisorActor`, supervisors/). They cross the wire: a parent
 * supervisor and the `Supervisor` handle may run on other nodes than the supervisor they talk to.
 */
export const SupervisorStartRequest = z.strictObject({ type: z.literal("tether.supervisor.v1.start") });
/** A child's handler failed (relayed from the node's failure notice, wherever the child runs). */
export const SupervisorChildFailed = z.strictObject({
  type: z.literal("tether.supervisor.v1.child_failed"),
  child: Id,
  /** The node the failing copy ran on: a notice from a copy the supervisor no longer tracks is stale. */
  nodeId: Id,
  code: z.string().max(64),
  /** A secret of the running supervisor (it relays its own failure feed): a copy without it is ignored. */
  key: z.string().max(64),
});
/** A nested supervisor exceeded its restart intensity: to its parent, that child failed. */
export const SupervisorChildEscalated = z.strictObject({ type: z.literal("tether.supervisor.v1.child_escalated"), child: Id });
/** Checks where every child runs and restarts those that are gone (sent on a timer and after a failover). */
export const SupervisorReconcile = z.strictObject({ type: z.literal("tether.supervisor.v1.reconcile"), key: z.string().max(64) });
/**
 * Stops every child in reverse start order; the supervisor stays, idle, until it is itself stopped.
 * `envelope`: a signed stop of this supervisor (`tether.node.v1.stop`, target and actorId the
 * supervisor's id) by a key whose role may stop: a node's own key, or an operator's.
 */
export const SupervisorShutdown = z.strictObject({ type: z.literal("tether.supervisor.v1.shutdown"), envelope: ControlEnvelope });
export const SupervisorStatusRequest = z.strictObject({ type: z.literal("tether.supervisor.v1.status") });
export const SupervisorMessage = z.discriminatedUnion("type", [
  SupervisorStartRequest,
  SupervisorChildFailed,
  SupervisorChildEscalated,
  SupervisorReconcile,
  SupervisorShutdown,
  SupervisorStatusRequest,
]);
export type SupervisorMessage = z.infer<typeof SupervisorMessage>;

/** Where a supervisor is in its life. `new`: spawned, waiting for `start`. */
export const SupervisorPhase = {
  new: "new",
  starting: "starting",
  running: "running",
  escalated: "escalated",
  gaveUp: "gave_up",
  stopped: "stopped",
} as const;
export type SupervisorPhase = (typeof SupervisorPhase)[keyof typeof SupervisorPhase];

/** One running child as its supervisor records it. */
export const SupervisedChild = z.strictObject({
  kind: z.enum(["worker", "supervisor"]),
  /** The node it was started on (or found on). */
  node: Id,
  /** When this incarnation started (seconds, like ECT iat): rollback undoes only its actions. */
  startedAt: z.number().int().nonnegative(),
});
export type SupervisedChild = z.infer<typeof SupervisedChild>;

/**
 * A supervisor actor's checkpointed state (JetStream KV, like any actor's): what a survivor needs to
 * take the supervisor over. The spec itself is not stored (its children have `start()` functions): the
 * new host resolves it by the supervisor's id from the trees it registered.
 */
export const SupervisorCheckpoint = z.strictObject({
  type: z.literal("tether.supervisor.v1.state"),
  phase: z.enum(SupervisorPhase),
  children: z.record(Id, SupervisedChild),
  /** Restart times (epoch ms) inside the intensity window. */
  restartTimes: z.array(z.number().finite()).max(10_001),
  restarts: z.number().int().nonnegative(),
});
export type SupervisorCheckpoint = z.infer<typeof SupervisorCheckpoint>;

/** The reply to `start`, `shutdown` and `status`. */
export const SupervisorStatus = z.strictObject({
  supervisor: Id,
  nodeId: Id,
  phase: z.enum(SupervisorPhase),
  children: z.array(Id).max(1_000),
  restarts: z.number().int().nonnegative(),
  /** Set when the request failed (e.g. a child did not start): the error's code and message. */
  error: z.strictObject({ code: z.string().max(64), message: z.string().max(4096) }).optional(),
});
export type SupervisorStatus = z.infer<typeof SupervisorStatus>;
