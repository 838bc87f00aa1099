import type { ActionInterceptor } from "../actor/actor-types.ts";
import type { Quotas } from "../assurance/quotas.ts";
import type { Logger } from "../support/logger.ts";

/**
 * Reserves the action's declared cost (one action plus `cost`) against the network's quotas before it
 * runs (ERR_QUOTA_EXCEEDED refuses it with no partial effects), then records what it reported beyond
 * the declaration. Runs inside the meter link, so the units reported while it ran are in `scope.meter`.
 */
export const quotaLink =
  (quotas: Quotas, logger: Logger): ActionInterceptor =>
  async (call, next) => {
    const scope = call.scope;
    const subject = { agent: call.actorId, workflow: scope.wid };
    const declared: Record<string, number> = { actions: 1, ...(call.cost ?? {}) };
    await quotas.reserve(subject, declared);
    const usage = scope.meter;
    try {
      return await next();
    } finally {
      const extra: Record<string, number> = {};
      for (const [unit, amount] of Object.entries(usage?.units ?? {})) extra[unit] = amount - (declared[unit] ?? 0);
      await quotas.record(subject, extra).catch((error: unknown) => logger.warn("quota usage not recorded", { error }));
    }
  };
