import { z } from "zod";
import { KeyRole } from "./keys.ts";

/**
 * Human-in-the-loop approval gates (issue #10, seed 03 "HITL point model"). A policy says when a
 * human must decide about a `ctx.act`; its gate says who may decide, how long they have, who is
 * asked next when they do not answer, and what happens on a rejection. Pending approvals live in the
 * network's approvals actor (durable: its checkpoint is in JetStream KV); decisions are signed control
 * messages (`tether.approval.v1.decision`, operation `approve`) and are recorded as ECTs.
 */

const Id = z.string().min(1).max(128);
const Name = z.string().min(1).max(256);

/** Seed 03's three HITL point types: approval required, notification only, override only. */
export const GateType = z.enum(["approval", "notify", "override"]);
export type GateType = z.infer<typeof GateType>;

/** Who may decide at one level: any key of these roles (and, when given, held by one of these owners). */
export const Deciders = z.strictObject({
  roles: z.array(KeyRole).min(1).max(8),
  owners: z.array(Id).max(32).optional(),
});
export type Deciders = z.infer<typeof Deciders>;

/** The next group asked when the previous level's time ran out. */
export const EscalationStep = z.strictObject({
  deciders: Deciders,
  timeoutMs: z.number().int().min(1).max(7 * 86_400_000),
});
export type EscalationStep = z.infer<typeof EscalationStep>;

/** What a rejection does to the gated action. */
export const RejectPath = z.discriminatedUnion("path", [
  /** The action does not run; `ctx.act` throws ERR_APPROVAL_REJECTED. */
  z.strictObject({ path: z.literal("abort") }),
  /** Like abort, after rolling back the workflow's completed compensable actions. */
  z.strictObject({ path: z.literal("compensate") }),
  /** The action does not run; the request goes to another actor whose reply is the action's result. */
  z.strictObject({ path: z.literal("reroute"), to: Id }),
]);
export type RejectPath = z.infer<typeof RejectPath>;

export const Gate = z.strictObject({
  type: GateType.default("approval"),
  deciders: Deciders,
  /** How long the first level has to decide. */
  timeoutMs: z.number().int().min(1).max(7 * 86_400_000),
  escalation: z.array(EscalationStep).max(8).default([]),
  /** After the last level timed out. Default: reject for `approval`, approve for `override`. */
  defaultOutcome: z.enum(["approve", "reject"]).optional(),
  onReject: RejectPath.default({ path: "abort" }),
  /** An approval must be used within this long, or it lapses (ERR_APPROVAL_EXPIRED). Default 5 min. */
  validForMs: z.number().int().min(1).max(86_400_000).default(300_000),
  /** A cooling-off period between approval and the action, during which the approval can be revoked. Default 0. */
  holdMs: z.number().int().min(0).max(86_400_000).default(0),
});
export type GateInput = z.input<typeof Gate>;
export type Gate = z.output<typeof Gate>;

const Scalar = z.union([z.number(), z.string().max(1024), z.boolean()]);

/** One comparison over the action's params: `param op value`, or `param op ref.param × ref.times`. */
export const ParamCondition = z.strictObject({
  param: Name,
  op: z.enum(["gt", "gte", "lt", "lte", "eq", "ne"]),
  value: Scalar.optional(),
  ref: z.strictObject({ param: Name, times: z.number().finite().default(1) }).optional(),
});
export type ParamCondition = z.infer<typeof ParamCondition>;

export const RiskLevel = z.enum(["low", "medium", "high", "critical"]);
export type RiskLevel = z.infer<typeof RiskLevel>;

/**
 * When a gate applies. Every condition given must hold: the action's name (`*` for any), every
 * `when` comparison over its params, its risk level at least `minRisk` (risk levels are declared per
 * action name by the link's options), and the node's assurance profile among `profiles`.
 */
export const ApprovalPolicy = z.strictObject({
  id: Id,
  action: Name,
  when: z.array(ParamCondition).max(16).optional(),
  minRisk: RiskLevel.optional(),
  profiles: z.array(z.enum(["relaxed", "standard", "regulated"])).max(3).optional(),
  /** One line for the approver; default "<actor> wants to <action>". */
  summary: z.string().max(1024).optional(),
  gate: Gate,
});
export type ApprovalPolicyInput = z.input<typeof ApprovalPolicy>;
export type ApprovalPolicy = z.output<typeof ApprovalPolicy>;

const RISK_RANK: Record<RiskLevel, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** What a policy is matched against. */
export interface GateSubject {
  readonly action: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly risk?: RiskLevel | undefined;
  readonly profile?: string | undefined;
}

const holds = (c: ParamCondition, params: Readonly<Record<string, unknown>>): boolean => {
  const left = params[c.param];
  let right: unknown = c.value;
  if (c.ref !== undefined) {
    const base = params[c.ref.param];
    if (typeof base !== "number") return false;
    right = base * c.ref.times;
  }
  if (right === undefined) return false;
  switch (c.op) {
    case "eq":
      return left === right;
    case "ne":
      return left !== right;
    default: {
      if (typeof left !== "number" || typeof right !== "number") return false;
      if (c.op === "gt") return left > right;
      if (c.op === "gte") return left >= right;
      if (c.op === "lt") return left < right;
      return left <= right;
    }
  }
};

/** The first policy whose conditions all hold for this action, if any. */
export const matchPolicy = (policies: readonly ApprovalPolicy[], subject: GateSubject): ApprovalPolicy | undefined =>
  policies.find((p) => {
    if (p.action !== "*" && p.action !== subject.action) return false;
    if (p.profiles !== undefined && (subject.profile === undefined || !(p.profiles as readonly string[]).includes(subject.profile))) return false;
    if (p.minRisk !== undefined && (subject.risk === undefined || RISK_RANK[subject.risk] < RISK_RANK[p.minRisk])) return false;
    return (p.when ?? []).every((c) => holds(c, subject.params));
  });

/** What the approver sees: what, with which inputs, why (the agent's rationale), and the evidence ECTs. */
export const Explanation = z.strictObject({
  summary: z.string().max(1024),
  inputs: z.record(z.string().max(256), z.unknown()),
  rationale: z.string().max(4096).optional(),
  evidence: z.array(z.string().max(256)).max(32),
});
export type Explanation = z.infer<typeof Explanation>;

export const ApprovalStatus = z.enum(["pending", "approved", "rejected", "revoked", "expired", "notified", "executed"]);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

/** A decision as recorded: who (key owner, role, kid), when, what, why, and its ECT. */
export const DecisionRecord = z.strictObject({
  decision: z.enum(["approve", "reject", "revoke", "timeout-approve", "timeout-reject", "escalate"]),
  by: z.string().max(128),
  role: z.string().max(32),
  kid: z.string().max(128).optional(),
  at: z.number().int(),
  level: z.number().int().min(0).max(16),
  reason: z.string().max(1024).optional(),
  /** The option chosen, for a gate that asks to choose among `choices`. */
  choice: z.string().max(128).optional(),
  ect: z.strictObject({ jti: z.string().max(256), token: z.string().max(64 * 1024), level: z.enum(["L1", "L2", "L3"]) }).optional(),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

/** A SHA-256 digest, base64url without padding. */
const ClaimHash = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "a SHA-256 digest in base64url");

/** One approval as the approvals actor keeps it. */
export const ApprovalRecord = z.strictObject({
  id: z.uuid(),
  policy: Id,
  actorId: Id,
  action: Name,
  wid: z.string().max(256).optional(),
  gate: Gate,
  explanation: Explanation,
  status: ApprovalStatus,
  /** The escalation level asking now (0: the gate's deciders; n: escalation[n - 1]). */
  level: z.number().int().min(0).max(16),
  requestedAt: z.number().int(),
  /** When the current level's time runs out (pending), or the approval lapses (approved). */
  deadline: z.number().int(),
  /** The ECT of the gated action as proposed: the parent of every decision's ECT. */
  requestEct: z.strictObject({ jti: z.string().max(256), token: z.string().max(64 * 1024), level: z.enum(["L1", "L2", "L3"]) }).optional(),
  /** When given, an approval must choose one of these (a consensus escalation's options). */
  choices: z.array(z.string().min(1).max(128)).min(2).max(16).optional(),
  /** SHA-256 (base64url) of the secret the opener keeps: only its holder may use the approval (`consume`). */
  claimHash: ClaimHash.optional(),
  decisions: z.array(DecisionRecord).max(32),
});
export type ApprovalRecord = z.infer<typeof ApprovalRecord>;

/** The deciders asked at `level`. */
export const decidersAt = (gate: Gate, level: number): Deciders => (level === 0 ? gate.deciders : (gate.escalation[level - 1]?.deciders ?? gate.deciders));

/** The signed body of a decision (travels inside a `ControlEnvelope`, operation `approve`, target the approvals actor). */
export const ApprovalDecisionBody = z.strictObject({
  type: z.literal("tether.approval.v1.decision"),
  approvalId: z.uuid(),
  decision: z.enum(["approve", "reject", "revoke"]),
  reason: z.string().max(1024).optional(),
  /** For a gate with `choices`: the option approved. */
  choice: z.string().min(1).max(128).optional(),
});
export type ApprovalDecisionBody = z.infer<typeof ApprovalDecisionBody>;

const Envelope = z.strictObject({ type: z.literal("tether.control.v1.signed"), token: z.string().min(1).max(16_384) });

/** The approvals actor's messages. */
export const ApprovalsMessage = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("tether.approvals.v1.open"),
    policy: ApprovalPolicy,
    actorId: Id,
    action: Name,
    wid: z.string().max(256).optional(),
    explanation: Explanation,
    /** The ECT the action continues (the agent's current context), parent of the request ECT. */
    parentJti: z.string().max(256).optional(),
    /** An approval must choose one of these (a consensus escalation's options). */
    choices: z.array(z.string().min(1).max(128)).min(2).max(16).optional(),
    /** SHA-256 (base64url) of a secret the opener keeps and shows to `consume` the approval. */
    claimHash: ClaimHash,
  }),
  z.strictObject({ type: z.literal("tether.approvals.v1.decide"), envelope: Envelope }),
  z.strictObject({ type: z.literal("tether.approvals.v1.await"), id: z.uuid() }),
  /** Uses an approved approval once; `claim` is the secret whose hash the opener gave. */
  z.strictObject({ type: z.literal("tether.approvals.v1.consume"), id: z.uuid(), claim: z.string().min(1).max(128) }),
  z.strictObject({ type: z.literal("tether.approvals.v1.get"), id: z.uuid() }),
  z.strictObject({ type: z.literal("tether.approvals.v1.list"), status: ApprovalStatus.optional() }),
  /** The actor's own deadline timer; `key` is a secret of the running instance (ticks from elsewhere are refused). */
  z.strictObject({ type: z.literal("tether.approvals.v1.tick"), key: z.string().max(64) }),
]);
export type ApprovalsMessage = z.infer<typeof ApprovalsMessage>;
export type ApprovalsMessageInput = z.input<typeof ApprovalsMessage>;

/** What a reroute target receives instead of the rejected action running. */
export const ReroutedAction = z.strictObject({
  type: z.literal("tether.approvals.v1.rerouted"),
  approvalId: z.uuid(),
  actorId: Id,
  action: Name,
  params: z.record(z.string().max(256), z.unknown()),
});
export type ReroutedAction = z.infer<typeof ReroutedAction>;
