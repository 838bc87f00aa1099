import { z } from "zod";

/**
 * Sent by a rollback coordinator to the actor that performed an action, on its priority lane, with
 * envelope kind `compensate`: the runtime hands it to the actor's `compensate(request, ctx)`.
 */
export const CompensationRequest = z.strictObject({
  type: z.literal("tether.rollback.v1.compensate"),
  /** The action being undone (its ECT jti) and its workflow. */
  jti: z.string().min(1).max(256),
  wid: z.string().max(64).optional(),
  /** The action's name, and the compensation it declared (`ctx.act(…, { compensate })`). */
  action: z.string().min(1).max(256),
  compensation: z.string().min(1).max(256),
  /** What the action was called with and what it returned. */
  params: z.unknown(),
  result: z.unknown(),
  /** Delivery attempt (1-based); compensations must be idempotent. */
  attempt: z.number().int().min(1).max(100),
});
export type CompensationRequest = z.infer<typeof CompensationRequest>;

/** What `node.rollback()` accepts. */
export const RollbackRequest = z.strictObject({
  /** The workflow (ECT `wid`) to roll back. */
  workflow: z.uuid(),
  /** Roll back this action and everything it caused (its descendants); default: the whole workflow. */
  from: z.string().min(1).max(256).optional(),
  /** Attempts per compensation before escalating. */
  attempts: z.number().int().min(1).max(20).default(3),
  /** Backoff between attempts (doubles each time). */
  backoffMs: z.number().int().min(0).max(60_000).default(100),
  /** Time limit of one compensation call. */
  timeoutMs: z.number().int().min(1).max(600_000).default(10_000),
  /**
   * The agent whose fault made this rollback necessary (supervisors name nobody: a lost child proves no fault). When
   * something was compensated, the node records a signed `tether.rollback.caused` ECT about that agent
   * (parent: `from`), which the trust actor counts as `rollback-caused`. Absent: nobody is blamed.
   */
  cause: z.strictObject({ agent: z.string().min(1).max(128), reason: z.string().min(1).max(512) }).optional(),
});
export type RollbackRequestInput = z.input<typeof RollbackRequest>;
export type RollbackRequest = z.output<typeof RollbackRequest>;

export const RollbackStepOutcome = z.enum(["compensated", "already-compensated", "failed", "pending", "not-compensable"]);
export type RollbackStepOutcome = z.infer<typeof RollbackStepOutcome>;

export interface RollbackStep {
  readonly jti: string;
  readonly actor: string;
  readonly action: string;
  readonly compensation: string | undefined;
  outcome: RollbackStepOutcome;
  attempts: number;
  error?: { readonly code: string; readonly message: string };
}

export interface RollbackReport {
  readonly workflow: string;
  readonly from: string | undefined;
  /** True when every compensable action in scope was compensated (or already was). */
  readonly ok: boolean;
  /** In the order compensations ran: children before parents (reverse topological order). */
  readonly steps: RollbackStep[];
  /** The jti of the `tether.rollback.caused` record, when the request named a cause and something was compensated. */
  readonly causeEct?: string;
}

/** The ECT node type (`exec_act`) of the record that names the agent whose fault caused a rollback. */
export const ROLLBACK_CAUSED_ACT = "tether.rollback.caused";
