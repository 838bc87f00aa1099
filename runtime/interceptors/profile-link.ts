import type { ActionCall, ActionInterceptor } from "../actor/actor-types.ts";
import type { ProfileGuard } from "../assurance/profile-guard.ts";
import type { Judged } from "../assurance/violation-evidence.ts";

/**
 * Checks each `ctx.act` against the actor's behavioural profile before it runs. It sits before the
 * mint, ledger, meter and quota links: a blocked action runs nothing, mints no action ECT and reserves
 * no quota; its only trace is the violation's own evidence ECT and ledger event. Metered usage beyond
 * a `maxUnits` limit is known only afterwards: it is recorded, not undone. An actor with no profile
 * costs one map lookup.
 */
export const profileLink =
  (guard: ProfileGuard): ActionInterceptor =>
  async (call, next) => {
    if (!guard.has(call.actorId)) return next();
    const judged = () => judgedAction(call);
    await guard.checkAction(call.actorId, call.name, call.params, call.cost, judged);
    const result = await next();
    await guard.checkUsage(call.actorId, call.name, call.record.usage?.units, judged);
    return result;
  };

const judgedAction = (call: ActionCall): Judged => {
  const scope = call.scope;
  const parent = call.record.minted ?? scope.current ?? scope.incoming;
  return { actorId: call.actorId, parent, wid: scope.wid ?? parent?.wid, input: { action: call.name, params: call.params }, messageId: call.messageId };
};
