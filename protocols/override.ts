import { z } from "zod";
import { assertToken } from "./subjects.ts";

/**
 * The override plane's wire formats (human oversight: stop, pause, resume, constrain, rollback,
 * takeover). A signal is a control body signed by a person's key (see `control.ts`, role matrix in
 * `control-roles.ts`) with `target` = `OVERRIDE_TARGET`; the override actor persists it (KV
 * `tether_<net>_overrides`) and broadcasts the signed token to every node, which verifies it itself.
 */

/** The `target` every override control message is signed for (one per network: `network` binds it). */
export const OVERRIDE_TARGET = "tether-override";
/** The id the override actor runs under by default. */
export const OVERRIDE_ACTOR_ID = "tether-override";

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);
const Name = z.string().min(1).max(256);

export const OverrideScope = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("agent"), id: Id }),
  /** The actors whose handler in flight carries an ECT of this workflow id. */
  z.strictObject({ kind: z.literal("workflow"), wid: Name }),
  /**
   * A supervisor and every actor under it (`members`): the issuer resolves them from the supervision
   * tree (`OverrideClient.resolveSubtree`) before signing, so the list is the operator's.
   */
  z.strictObject({ kind: z.literal("subtree"), id: Id, members: z.array(Id).max(10_000).default([]) }),
  z.strictObject({ kind: z.literal("capability"), capability: Name }),
  z.strictObject({ kind: z.literal("node"), id: Id }),
  z.strictObject({ kind: z.literal("network") }),
]);
export type OverrideScope = z.infer<typeof OverrideScope>;
export type OverrideScopeInput = z.input<typeof OverrideScope>;

export const OverrideActions = ["stop", "pause", "resume", "constrain", "rollback", "takeover"] as const;
export const OverrideAction = z.enum(OverrideActions);
export type OverrideAction = z.infer<typeof OverrideAction>;

/** advisory: the actor's `onOverride` decides (recorded); mandatory: must comply; emergency: pre-empts the handler in flight. */
export const OverrideLevel = z.enum(["advisory", "mandatory", "emergency"]);
export type OverrideLevel = z.infer<typeof OverrideLevel>;

/** What happens to messages a stop kept queued when it is lifted. */
export const LiftDisposition = z.enum(["release", "dead-letter"]);
export type LiftDisposition = z.infer<typeof LiftDisposition>;

/** Run-time limits a `constrain` sets; checked by `ctx.act` (see the constraint link). */
export const OverrideConstraints = z.strictObject({
  /** Only these action names may run through `ctx.act`. */
  allowedActions: z.array(Name).max(256).optional(),
  /** At most this many `ctx.act` calls per second (a one-second window). */
  maxActsPerSecond: z.number().int().positive().max(1_000_000).optional(),
  /** Numeric parameter bounds: `params[key]` must lie in [min, max]. */
  bounds: z.record(z.string().max(128), z.strictObject({ min: z.number().optional(), max: z.number().optional() })).optional(),
});
export type OverrideConstraints = z.infer<typeof OverrideConstraints>;

export const OverrideSignalBody = z.strictObject({
  type: z.literal("tether.override.v1.signal"),
  id: Id,
  action: OverrideAction,
  scope: OverrideScope,
  level: OverrideLevel,
  reason: z.string().min(1).max(1024),
  /** For stop: what its lift does with the kept messages (default release). */
  onLift: LiftDisposition.default("release"),
  /** Every affected actor acknowledges within this time, or the signal escalates. */
  ackDeadlineMs: z.number().int().positive().max(600_000).default(5_000),
  constraints: OverrideConstraints.optional(),
  /** For rollback: the workflow (and optionally the action) whose completed actions are compensated. */
  rollback: z.strictObject({ workflow: Name, from: Name.optional() }).optional(),
});
export type OverrideSignalBody = z.infer<typeof OverrideSignalBody>;
export type OverrideSignalInput = z.input<typeof OverrideSignalBody>;

/** Lifts an active override (stop, pause, constrain, takeover) by id. */
export const OverrideLiftBody = z.strictObject({
  type: z.literal("tether.override.v1.lift"),
  id: Id,
  /** Overrides the stop's own `onLift`. */
  disposition: LiftDisposition.optional(),
  reason: z.string().max(1024).default(""),
});
export type OverrideLiftBody = z.infer<typeof OverrideLiftBody>;

/**
 * A human's result for a task of the human work queue (a takeover), signed by that person: it answers
 * the original asker and is recorded as the action's outcome, so nobody else on the bus may send it.
 */
export const OverrideTaskResultBody = z.strictObject({
  type: z.literal("tether.override.v1.task-result"),
  taskId: Id,
  result: z.unknown(),
});
export type OverrideTaskResultBody = z.infer<typeof OverrideTaskResultBody>;

export const OverrideControl = z.discriminatedUnion("type", [OverrideSignalBody, OverrideLiftBody]);
export type OverrideControl = z.infer<typeof OverrideControl>;

const Envelope = z.strictObject({ type: z.literal("tether.control.v1.signed"), token: z.string().min(1).max(16_384) });
const Signer = z.strictObject({ kid: z.string().max(128), role: z.string().max(32), owner: z.string().max(256) });

/** One active override as the KV bucket holds it (key `o.<id>`). */
export const ActiveOverride = z.strictObject({
  type: z.literal("tether.override.v1.active"),
  id: Id,
  envelope: Envelope,
  signal: OverrideSignalBody,
  by: Signer,
  at: z.number().int(),
  /** The actors expected to acknowledge, when the scope could be resolved from the registry. */
  expected: z.array(Id).max(100_000).nullable(),
  /** Workflow scopes: every actor caught by it so far (acknowledged), so fencing re-applies it where they activate next. */
  caught: z.array(Id).max(100_000).optional(),
  /** When its acknowledgement deadline was settled (escalated or fully acknowledged): a new owner does not re-arm it. */
  settledAt: z.number().int().optional(),
});
export type ActiveOverride = z.infer<typeof ActiveOverride>;

/** The override actor's messages. */
export const OverrideRequest = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("tether.override.v1.issue"), envelope: Envelope }),
  z.strictObject({ type: z.literal("tether.override.v1.lift-request"), envelope: Envelope }),
  z.strictObject({ type: z.literal("tether.override.v1.list") }),
  /** `envelope` carries a signed `OverrideTaskResultBody`. */
  z.strictObject({ type: z.literal("tether.override.v1.work-result"), envelope: Envelope }),
]);
export type OverrideRequest = z.infer<typeof OverrideRequest>;

export const IssueReply = z.strictObject({
  id: Id,
  expected: z.array(Id).nullable(),
  issuedAt: z.number().int(),
  deadlineAt: z.number().int(),
  /** For rollback: the rollback's report, as `node.rollback` returns it. */
  result: z.unknown().optional(),
});
export type IssueReply = z.infer<typeof IssueReply>;

/** What the priority subject carries: the operator-signed token, verified again by every node. */
export const OverrideBroadcast = z.strictObject({
  type: z.literal("tether.override.v1.broadcast"),
  op: z.enum(["apply", "lift"]),
  envelope: Envelope,
});
export type OverrideBroadcast = z.infer<typeof OverrideBroadcast>;

export const AckOutcome = z.enum(["applied", "declined", "lifted"]);
export type AckOutcome = z.infer<typeof AckOutcome>;

/** One actor's acknowledgement of a signal, published by the node that applied it. */
export const OverrideAck = z.strictObject({
  type: z.literal("tether.override.v1.ack"),
  overrideId: Id,
  actorId: Id,
  nodeId: Id,
  at: z.number().int(),
  outcome: AckOutcome,
  /** A handler was in flight and its `ctx.signal` was fired. */
  aborted: z.boolean(),
  /** Messages kept in the mailbox. */
  queued: z.number().int().nonnegative(),
  /** Applied when the actor was activated (start, failover), not from the live broadcast. */
  fenced: z.boolean(),
  /** An advisory signal's decision by the actor's `onOverride`, with its reason. */
  decision: z.string().max(1024).optional(),
});
export type OverrideAck = z.infer<typeof OverrideAck>;

export const OverrideEscalation = z.strictObject({
  type: z.literal("tether.override.v1.escalation"),
  overrideId: Id,
  at: z.number().int(),
  expected: z.number().int(),
  acked: z.number().int(),
  missing: z.array(Id).max(100_000),
});
export type OverrideEscalation = z.infer<typeof OverrideEscalation>;

/** A task a takeover moved to the human work queue (stream `TETHER_<net>_OVERRIDE_WORK`). */
export const HumanTask = z.strictObject({
  type: z.literal("tether.override.v1.human-task"),
  taskId: Id,
  overrideId: Id,
  actorId: Id,
  messageId: z.string().max(128),
  messageType: z.string().max(256).optional(),
  body: z.unknown(),
  wid: z.string().max(256).optional(),
  at: z.number().int(),
  /** The message was an ask whose asker still waits: the human's result is sent to it (`HumanTaskDone`). */
  awaitsReply: z.boolean().optional(),
});
export type HumanTask = z.infer<typeof HumanTask>;

/**
 * Published by the override actor (on `done()`, as a request) when a human completed a task: the node
 * that took the task's ask over answers the original asker with `result` and replies `delivered`.
 */
export const HumanTaskDone = z.strictObject({
  type: z.literal("tether.override.v1.task-done"),
  taskId: Id,
  actorId: Id,
  /** The person's signed `OverrideTaskResultBody`: the node holding the ask checks it and answers with its result. */
  envelope: Envelope,
  by: z.string().max(256),
  at: z.number().int(),
});
export type HumanTaskDone = z.infer<typeof HumanTaskDone>;

/**
 * Asked by an override actor that took over (failover): which local actors hold these overrides now?
 * Every node answers on the reply subject with a `HoldingReply`, so the new owner knows who already
 * acknowledged before it re-arms the deadlines.
 */
export const HoldingQuery = z.strictObject({ type: z.literal("tether.override.v1.holding-query"), ids: z.array(Id).max(10_000) });
export type HoldingQuery = z.infer<typeof HoldingQuery>;

export const HoldingReply = z.strictObject({
  type: z.literal("tether.override.v1.holding"),
  nodeId: Id,
  /** Override id → the local actors it was applied to (declined ones included: they acknowledged too). */
  held: z.record(Id, z.array(Id).max(100_000)),
});
export type HoldingReply = z.infer<typeof HoldingReply>;

export interface OverrideSubjects {
  /** The priority subject every node listens to. */
  signals(): string;
  acks(overrideId: string): string;
  escalations(overrideId: string): string;
  /** Holding queries of a new override actor (see `HoldingQuery`). */
  holding(): string;
  bucket(): string;
  workStream(): string;
  work(): string;
  /** Completed human tasks (`HumanTaskDone`), for the node holding the original ask. */
  done(): string;
}

export const overrideSubjects = (network: string): OverrideSubjects => {
  const net = assertToken("network", network);
  const base = `tether.${net}.override`;
  return {
    signals: () => `${base}.signals`,
    acks: (id) => `${base}.acks.${assertToken("correlation id", id)}`,
    escalations: (id) => `${base}.escalations.${assertToken("correlation id", id)}`,
    holding: () => `${base}.holding`,
    bucket: () => `tether_${net}_overrides`,
    workStream: () => `TETHER_${net.replaceAll("-", "_")}_OVERRIDE_WORK`,
    work: () => `${base}.work`,
    done: () => `${base}.done`,
  };
};

/** Which actions hold a place in the active set until lifted (resume, rollback are one-shot). */
export const isStanding = (action: OverrideAction): boolean => action !== "resume" && action !== "rollback";
