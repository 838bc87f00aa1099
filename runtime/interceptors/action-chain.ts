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
};

export type ActionChain = ReturnType<typeof composeActionChain>;
