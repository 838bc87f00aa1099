import { z } from "zod";
import { parseSupervisorOptions, supervisorError } from "./supervisor-errors.ts";

const jitter = z.number().min(0).max(1);

/**
 * Exponential backoff: the delay before restart `attempt` (0-based) is
 * `min(maxMs, initialMs × multiplier^attempt)`, then jittered (see `backoffDelay`).
 */
export const ExponentialBackoff = z
  .strictObject({
    kind: z.literal("exponential").default("exponential"),
    /** Delay before the first restart (attempt 0), before jitter. */
    initialMs: z.number().int().nonnegative().max(86_400_000),
    /** Ceiling of the delay, before jitter: jitter only ever shortens a delay, so no delay exceeds it. */
    maxMs: z.number().int().nonnegative().max(86_400_000),
    /** Growth per attempt. Default 2 (the delay doubles). */
    multiplier: z.number().min(1).max(100).default(2),
    /** Fraction of each delay that is randomized (see `backoffDelay`). Default 0.2. */
    jitter: jitter.default(0.2),
  })
  .refine((p) => p.maxMs >= p.initialMs, { message: "maxMs must be at least initialMs", path: ["maxMs"] })
  .readonly();

/** The same delay before every restart, jittered like the exponential policy. */
export const ConstantBackoff = z
  .strictObject({
    kind: z.literal("constant").default("constant"),
    delayMs: z.number().int().nonnegative().max(86_400_000),
    /** Fraction of the delay that is randomized. Default 0 (no jitter). */
    jitter: jitter.default(0),
  })
  .readonly();

/** A backoff policy is plain data: store it in a supervisor spec, send it, compare it. */
export const BackoffPolicy = z.union([ExponentialBackoff, ConstantBackoff]);
export type BackoffPolicyInput = z.input<typeof BackoffPolicy>;
export type BackoffPolicy = z.output<typeof BackoffPolicy>;
export type ExponentialBackoffInput = Omit<z.input<typeof ExponentialBackoff>, "kind">;
export type ConstantBackoffInput = Omit<z.input<typeof ConstantBackoff>, "kind">;

/** Validates an exponential policy and fills in its defaults (multiplier 2, jitter 0.2). */
export const exponentialBackoff = (options: ExponentialBackoffInput): BackoffPolicy =>
  parseSupervisorOptions(ExponentialBackoff, { ...options, kind: "exponential" }, "exponential backoff");

/** Validates a constant policy and fills in its default (jitter 0). */
export const constantBackoff = (options: ConstantBackoffInput): BackoffPolicy =>
  parseSupervisorOptions(ConstantBackoff, { ...options, kind: "constant" }, "constant backoff");

/**
 * The delay in ms before restart number `attempt` (0-based), a pure function of its arguments.
 *
 * Jitter is subtractive: `delay = round(base × (1 − jitter × r))` with `r = random()` in [0, 1), so a
 * delay lies in `(base × (1 − jitter), base]`. It never exceeds the policy's ceiling, and `jitter`
 * picks the classic schemes: 0 is none, 0.5 is "equal jitter", 1 is "full jitter". Many children
 * restarting after one shared failure therefore spread out instead of retrying in lockstep.
 *
 * `random` must return values in [0, 1) (like `Math.random`); values outside are clamped.
 */
export const backoffDelay = (policy: BackoffPolicy, attempt: number, random: () => number): number => {
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw supervisorError("ERR_SUPERVISOR_SPEC_INVALID", `backoff attempt must be a non-negative integer, got ${String(attempt)}`, {
      details: { attempt },
    });
  }
  // multiplier^attempt may overflow to Infinity for large attempts; min() then yields the ceiling
  // (0 × Infinity would be NaN, hence the guard for initialMs 0).
  const base =
    policy.kind === "constant" ? policy.delayMs : policy.initialMs === 0 ? 0 : Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** attempt);
  const drawn = random();
  const r = Number.isNaN(drawn) ? 0 : Math.min(1, Math.max(0, drawn));
  return Math.round(base * (1 - policy.jitter * r));
};
