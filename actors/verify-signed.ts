import { TetherError, verifyControl, type ControlBody, type ReplayCache, type VerifiedControl } from "../protocols/index.ts";
import type { Node } from "../runtime/index.ts";

/**
 * Checks a person's signed control message addressed to a built-in actor, with `node`'s key registry
 * and clock: signature, role, expiry, replay, and that its body is the one kind the actor takes
 * (ERR_CONTROL_MISDIRECTED otherwise). The approvals and consensus actors' ports share it.
 */
export const verifySignedFor = (node: Node, input: unknown, target: string, replay: ReplayCache, accepts: ControlBody["type"], what: string): Promise<VerifiedControl> =>
  verifyControl(input, {
    network: node.network,
    target,
    now: node.clock.now(),
    keys: node.assurance.keys,
    replay,
    clockSkewMs: node.options.assurance.clockSkewSeconds * 1000,
    accept: (body) => {
      if (body.type !== accepts) throw new TetherError("ERR_CONTROL_MISDIRECTED", `the ${what} accepts only ${accepts} bodies`);
    },
  });
