import { z } from "zod";
import { Deciders, TetherError, type Proposal } from "../../protocols/index.ts";

const Name = z.string().min(1).max(128);

/** Bounds on one proposal parameter: a number range, or a set of allowed values. */
export const ParamBound = z.strictObject({
  /** The parameter must be given. Default false (a bound applies when it is given). */
  required: z.boolean().default(false),
  min: z.number().finite().optional(),
  max: z.number().finite().optional(),
  /** Allowed values (strings, numbers or booleans). */
  values: z.array(z.union([z.number().finite(), z.string().max(256), z.boolean()])).min(1).max(64).optional(),
});
export type ParamBound = z.output<typeof ParamBound>;

/**
 * What a proposal of one kind may ask (every field optional; an absent one does not constrain):
 * - `options`: the options it may offer (a proposal's options must all be among them);
 * - `capabilities`: whose advertisers it may ask (the eligible voters);
 * - `rules`: the decision rules it may use, and `minThreshold` for a supermajority;
 * - `minQuorum`: at least this many valid votes must be required (an explicit smaller quorum is refused);
 * - `deadlineMs`: the time from now to the deadline, `{ min, max }`;
 * - `maxWeight`: the largest declared weight of one voter;
 * - `params`: bounds per parameter; with `closedParams` a parameter the policy does not name is refused.
 */
export const ConsensusPolicy = z.strictObject({
  /** The proposal kind this policy governs; `*` for every kind no other policy names. */
  kind: z.string().regex(/^(\*|[0-9A-Za-z_.-]{1,64})$/),
  options: z.array(Name).min(1).max(64).optional(),
  capabilities: z.array(Name).min(1).max(32).optional(),
  rules: z.array(z.enum(["majority", "supermajority", "unanimity"])).min(1).max(3).optional(),
  minThreshold: z.number().gt(0.5).max(1).optional(),
  minQuorum: z.int().min(1).max(1_000).optional(),
  deadlineMs: z.strictObject({ min: z.int().min(0).optional(), max: z.int().min(1).optional() }).optional(),
  maxWeight: z.number().positive().optional(),
  params: z.record(z.string().min(1).max(64), ParamBound).default({}),
  closedParams: z.boolean().default(false),
});
export type ConsensusPolicyInput = z.input<typeof ConsensusPolicy>;
export type ConsensusPolicy = z.output<typeof ConsensusPolicy>;

/**
 * The consensus actor's configuration: its policies, whether a kind no policy names is refused, and
 * who may report the truth (`resolve`).
 */
export const ConsensusConfig = z.strictObject({
  policies: z.array(ConsensusPolicy).max(64).default([]),
  /** A proposal whose kind no policy (nor `*`) names: refused (default, when any policy is given) or allowed. */
  unknownKinds: z.enum(["refuse", "allow"]).optional(),
  /** Keys that may sign a resolve: these roles (and, if given, owners). Default owner, admin, approver. */
  resolvers: Deciders.default({ roles: ["owner", "admin", "approver"] }),
});
export type ConsensusConfigInput = z.input<typeof ConsensusConfig>;
export type ConsensusConfig = z.output<typeof ConsensusConfig>;

/** One broken constraint: which policy, which constraint, and what the proposal asked. */
export interface PolicyBreach {
  readonly policy: string;
  readonly constraint: string;
  readonly detail: string;
}

const breach = (policy: string, constraint: string, detail: string): PolicyBreach => ({ policy, constraint, detail });

/** The breaches of `p` against the config's policy for its kind (empty when it complies). `now` is the actor's clock. */
export const checkProposal = (config: ConsensusConfig, p: Proposal, now: number): PolicyBreach[] => {
  const policy = config.policies.find((x) => x.kind === p.kind) ?? config.policies.find((x) => x.kind === "*");
  if (policy === undefined) {
    const refuse = (config.unknownKinds ?? (config.policies.length > 0 ? "refuse" : "allow")) === "refuse";
    return refuse ? [breach("-", "kind", `no policy governs proposals of kind ${p.kind}`)] : [];
  }
  const name = policy.kind;
  const out: PolicyBreach[] = [];
  if (policy.options !== undefined) {
    const allowed = new Set(policy.options);
    const extra = p.options.filter((o) => !allowed.has(o));
    if (extra.length > 0) out.push(breach(name, "options", `options not allowed: ${extra.join(", ")}`));
  }
  if (policy.capabilities !== undefined && !policy.capabilities.includes(p.capability)) out.push(breach(name, "capability", `voters by capability ${p.capability} are not allowed`));
  if (policy.rules !== undefined && !policy.rules.includes(p.rule.kind)) out.push(breach(name, "rule", `rule ${p.rule.kind} is not allowed`));
  if (policy.minThreshold !== undefined && p.rule.kind === "supermajority" && p.rule.threshold < policy.minThreshold) {
    out.push(breach(name, "threshold", `threshold ${p.rule.threshold} is below ${policy.minThreshold}`));
  }
  if (policy.minQuorum !== undefined && p.quorum !== undefined && p.quorum < policy.minQuorum) out.push(breach(name, "quorum", `quorum ${p.quorum} is below ${policy.minQuorum}`));
  const span = p.deadline - now;
  if (policy.deadlineMs?.min !== undefined && span < policy.deadlineMs.min) out.push(breach(name, "deadline", `the deadline is ${span} ms away, less than ${policy.deadlineMs.min}`));
  if (policy.deadlineMs?.max !== undefined && span > policy.deadlineMs.max) out.push(breach(name, "deadline", `the deadline is ${span} ms away, more than ${policy.deadlineMs.max}`));
  if (policy.maxWeight !== undefined) {
    const heavy = Object.entries(p.weights).filter(([, w]) => w > (policy.maxWeight ?? Infinity));
    if (heavy.length > 0) out.push(breach(name, "weight", `declared weight above ${policy.maxWeight}: ${heavy.map(([v]) => v).join(", ")}`));
  }
  for (const [param, bound] of Object.entries(policy.params)) {
    const value = p.params[param];
    if (value === undefined) {
      if (bound.required) out.push(breach(name, `params.${param}`, `${param} is required`));
      continue;
    }
    if (bound.values !== undefined && !bound.values.includes(value)) out.push(breach(name, `params.${param}`, `${param}=${String(value)} is not an allowed value`));
    if (bound.min !== undefined || bound.max !== undefined) {
      if (typeof value !== "number") out.push(breach(name, `params.${param}`, `${param} must be a number`));
      else if ((bound.min !== undefined && value < bound.min) || (bound.max !== undefined && value > bound.max)) {
        out.push(breach(name, `params.${param}`, `${param}=${value} is outside [${bound.min ?? "-∞"}, ${bound.max ?? "∞"}]`));
      }
    }
  }
  if (policy.closedParams) for (const param of Object.keys(p.params)) if (policy.params[param] === undefined) out.push(breach(name, `params.${param}`, `${param} is not a parameter this kind may set`));
  return out;
};

/** ERR_CONSENSUS_POLICY_VIOLATION naming every breach (`details.breaches`). */
export const policyViolation = (p: Proposal, breaches: readonly PolicyBreach[]): TetherError =>
  new TetherError("ERR_CONSENSUS_POLICY_VIOLATION", `proposal ${p.id} (kind ${p.kind}) breaks policy: ${breaches.map((b) => `${b.constraint}: ${b.detail}`).join("; ")}`.slice(0, 1024), {
    details: { proposal: p.id, kind: p.kind, breaches: breaches.slice(0, 16).map((b) => ({ ...b })) },
  });
