import { supervisorError } from "./supervisor-errors.ts";
import type { ChildSpec, RestartType, SupervisorSpec } from "./supervisor-spec.ts";

/** How a child exited: `normal` (it finished or was asked to stop) or `error` (it crashed, timed out, escalated). */
export const ExitReason = { normal: "normal", error: "error" } as const;
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason];

/**
 * What the runtime does after a child exits. Steps: stop every id of `stopOrder` (each within its
 * `shutdownMs`; the failed child has already exited, so stopping it is a no-op), then start every id
 * of `restart` in order (each within its `startMs`, after the supervisor's backoff delay).
 */
export interface RestartPlan {
  /** Children to restart, in start order: the failed child and the siblings the strategy takes down with it. */
  readonly restart: readonly string[];
  /** Temporary siblings the strategy takes down but never restarts, in stop order (last started first). */
  readonly stop: readonly string[];
  /** Every id of `restart` and `stop`, last started first: the order to stop them in. */
  readonly stopOrder: readonly string[];
}

const NOTHING: RestartPlan = Object.freeze({ restart: Object.freeze([]), stop: Object.freeze([]), stopOrder: Object.freeze([]) });

/** Whether a child of this restart type is restarted after this exit. */
export const shouldRestart = (restart: RestartType, reason: ExitReason): boolean =>
  restart === "permanent" || (restart === "transient" && reason === "error");

/**
 * Plans the reaction to child `failedChildId` exiting with `reason`, a pure function of the spec.
 * A child whose restart type says no (temporary; transient after a normal exit) is simply left stopped
 * and nothing else happens. Otherwise the strategy picks the affected children: one_for_one the failed
 * child, one_for_all all of them, rest_for_one the failed child and every child started after it.
 * Affected temporary siblings are stopped and not restarted (as in Erlang/OTP).
 *
 * The plan covers the spec's children; the runtime skips ids that are not running (say a transient
 * child that exited normally earlier). Counting the restart against the intensity (and escalating when
 * it is exceeded) is the caller's step before carrying out the plan.
 */
export const planRestart = (spec: SupervisorSpec, failedChildId: string, reason: ExitReason): RestartPlan => {
  const index = spec.children.findIndex((c) => c.id === failedChildId);
  const failed = spec.children[index];
  if (failed === undefined) {
    throw supervisorError("ERR_SUPERVISOR_CHILD_UNKNOWN", `supervisor ${spec.id} has no child ${JSON.stringify(failedChildId)}`, {
      details: { supervisor: spec.id, child: failedChildId },
    });
  }
  if (!shouldRestart(failed.restart, reason)) return NOTHING;
  const affected: readonly ChildSpec[] =
    spec.strategy === "one_for_one" ? [failed] : spec.strategy === "one_for_all" ? spec.children : spec.children.slice(index);
  const restart = affected.filter((c) => c === failed || c.restart !== "temporary").map((c) => c.id);
  const stop = affected.filter((c) => c !== failed && c.restart === "temporary").map((c) => c.id);
  return Object.freeze({
    restart: Object.freeze(restart),
    stop: Object.freeze(stop.reverse()),
    stopOrder: Object.freeze(affected.map((c) => c.id).reverse()),
  });
};
