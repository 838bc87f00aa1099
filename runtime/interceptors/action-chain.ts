import { TetherError } from "../../protocols/index.ts";
import type { ActionCall, ActionInterceptor } from "../actor/actor-types.ts";

/**
 * Composes action interceptors, outermost first, around the action itself (as Temporal's
 * `composeInterceptors`): each link gets the call and a `next` that runs the rest of the chain.
 * The chain is built once per node; a call walks it without allocating per link.
 */
export const composeActionChain = (links: readonly ActionInterceptor[]) => {
  return async <T>(call: ActionCall, run: () => Promise<T> | T): Promise<T> => {
    validateCall(call);
    const dispatch = async (index: number): Promise<unknown> => {
      const link = links[index];
      return link === undefined ? run() : link(call, () => dispatch(index + 1));
    };
    return (await dispatch(0)) as T;
  };
};

/** What `ctx.act` checks before any link runs. */
const validateCall = (call: ActionCall): void => {
  if (typeof call.name !== "string" || call.name.length === 0 || call.name.length > 256) {
    throw new TetherError("ERR_MESSAGE_INVALID", `ctx.act needs an action name of 1-256 characters`);
  }
  if (typeof call.params !== "object" || call.params === null) {
    throw new TetherError("ERR_MESSAGE_INVALID", `ctx.act params must be an object`);
  }
  if (call.cost !== undefined) validateCost(call.cost);
  if (call.compensate !== undefined && (typeof call.compensate !== "string" || call.compensate.length === 0 || call.compensate.length > 256)) {
    throw new TetherError("ERR_MESSAGE_INVALID", `ctx.act compensate needs a compensation name of 1-256 characters`);
  }
};

/**
 * A declared cost is reserved against quotas: a NaN amount would be written into the counter and,
 * since NaN is never over a limit, switch the quota off for the rest of its window.
 */
const validateCost = (cost: unknown): void => {
  if (typeof cost !== "object" || cost === null) throw new TetherError("ERR_MESSAGE_INVALID", `ctx.act cost must be an object of unit → amount`);
  for (const [unit, amount] of Object.entries(cost)) {
    if (unit.length === 0 || unit.length > 64 || typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) {
      throw new TetherError("ERR_MESSAGE_INVALID", `ctx.act cost needs unit names of 1-64 characters and finite non-negative amounts`, {
        details: { unit: unit.slice(0, 64) },
      });
    }
  }
};

export type ActionChain = ReturnType<typeof composeActionChain>;
