import { TetherError, type OverrideConstraints } from "../../protocols/index.ts";
import type { ActionInterceptor } from "../actor/actor-types.ts";
import type { Clock } from "../support/clock.ts";

/**
 * Enforces the run-time limits an operator's `constrain` override set on an actor, before the action
 * runs (no ECT is minted for a refused action): only allowed action names, at most N actions per
 * second (a fixed one-second window per actor), numeric parameters within their bounds. A refusal is
 * ERR_ACTION_CONSTRAINED. Actors without constraints pass at the cost of one map lookup.
 */
export const constraintLink = (constraintsOf: (actorId: string) => OverrideConstraints | undefined, clock: Clock): ActionInterceptor => {
  const windows = new Map<string, { start: number; count: number }>();
  return (call, next) => {
    const c = constraintsOf(call.actorId);
    if (c === undefined) return next();
    const refuse = (why: string) =>
      Promise.reject(new TetherError("ERR_ACTION_CONSTRAINED", `action ${call.name} of ${call.actorId} refused by an override: ${why}`, { details: { actorId: call.actorId, action: call.name } }));
    if (c.allowedActions !== undefined && !c.allowedActions.includes(call.name)) return refuse(`only ${c.allowedActions.join(", ") || "no actions"} allowed`);
    for (const [key, bound] of Object.entries(c.bounds ?? {})) {
      const value = call.params[key];
      if (value === undefined) continue;
      if (typeof value !== "number" || (bound.min !== undefined && value < bound.min) || (bound.max !== undefined && value > bound.max)) {
        return refuse(`parameter ${key}=${String(value).slice(0, 64)} is outside [${bound.min ?? "-∞"}, ${bound.max ?? "∞"}]`);
      }
    }
    if (c.maxActsPerSecond !== undefined) {
      const now = clock.now();
      let w = windows.get(call.actorId);
      if (w === undefined || now - w.start >= 1_000) {
        w = { start: now, count: 0 };
        windows.set(call.actorId, w);
      }
      if (w.count >= c.maxActsPerSecond) return refuse(`more than ${c.maxActsPerSecond} actions per second`);
      w.count++;
    }
    return next();
  };
};
