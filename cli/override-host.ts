import { OverrideActor, createOverridePorts } from "../actors/index.ts";
import { OVERRIDE_ACTOR_ID, hasCode } from "../protocols/index.ts";
import type { Node } from "../runtime/index.ts";

/**
 * `tether node start --overrides`: registers the override actor for failover on this node and starts
 * it unless another node already hosts it (then this node stands by for it).
 */
export const hostOverrides = async (node: Node): Promise<"hosting" | "standby"> => {
  const ports = await createOverridePorts(node);
  node.registerType(OverrideActor, { args: [ports] });
  try {
    await node.spawn(OVERRIDE_ACTOR_ID, OverrideActor, { args: [ports], restore: true });
    return "hosting";
  } catch (error) {
    if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error;
    return "standby";
  }
};
