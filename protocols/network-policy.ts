import { z } from "zod";

/** Assurance profile names, weakest first (the runtime's `AssuranceProfile` is this enum). */
export const AssuranceProfileName = z.enum(["relaxed", "standard", "regulated"]);
export type AssuranceProfileName = z.infer<typeof AssuranceProfileName>;

/** relaxed 0 < standard 1 < regulated 2. */
export const profileRank = (profile: AssuranceProfileName): number => AssuranceProfileName.options.indexOf(profile);

/** An allow-list entry: an exact name, `*` (anything), or a prefix ending in `*` (`billing.*`). */
const Pattern = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:/-]*\*?$/, "a name, * or a prefix ending in *");

export const PolicyLimits = {
  /** Upper bound of `maxMembers`. */
  maxMembers: 10_000,
  /** Entries per allow-list (keeps a signed policy-set well under the 16 KB control token limit). */
  maxPatterns: 64,
} as const;

/**
 * A network's policy: who may join and what may run in it. Stored in the network's governance bucket,
 * changed only by a signed `policy-set` (owner or admin), enforced by every node:
 * - `maxMembers`: a `member-add` of a new member beyond it is refused (ERR_MEMBER_LIMIT_REACHED);
 * - `allowedAgentTypes`: class names an agent may have to be spawned here (ERR_POLICY_AGENT_TYPE_DENIED);
 * - `allowedCapabilities`: every capability an agent declares must match (ERR_POLICY_CAPABILITY_DENIED);
 * - `minProfile`: a node running a weaker assurance profile refuses to start in the network, and a
 *   running one refuses new agents (ERR_POLICY_PROFILE_TOO_LOW).
 */
export const NetworkPolicy = z.strictObject({
  type: z.literal("tether.policy.v1.network"),
  maxMembers: z.number().int().min(1).max(PolicyLimits.maxMembers),
  allowedAgentTypes: z.array(Pattern).min(1).max(PolicyLimits.maxPatterns),
  allowedCapabilities: z.array(Pattern).min(1).max(PolicyLimits.maxPatterns),
  minProfile: AssuranceProfileName,
});
export type NetworkPolicy = z.infer<typeof NetworkPolicy>;

/** The policy of a network nobody has set one for: 100 members, any agent, any profile. */
export const defaultNetworkPolicy = (): NetworkPolicy => ({
  type: "tether.policy.v1.network",
  maxMembers: 100,
  allowedAgentTypes: ["*"],
  allowedCapabilities: ["*"],
  minProfile: "relaxed",
});

/** Control body: replace the network's policy (owner or admin). */
export const PolicySetRequest = z.strictObject({
  type: z.literal("tether.node.v1.policy-set"),
  policy: NetworkPolicy,
});
export type PolicySetRequest = z.infer<typeof PolicySetRequest>;

const matches = (patterns: readonly string[], name: string): boolean =>
  patterns.some((p) => p === "*" || p === name || (p.endsWith("*") && name.startsWith(p.slice(0, -1))));

/** Why an agent may not join under `policy` (undefined: it may). */
export const agentRefusal = (
  policy: NetworkPolicy,
  agentType: string,
  capabilities: readonly string[],
): { code: "ERR_POLICY_AGENT_TYPE_DENIED" | "ERR_POLICY_CAPABILITY_DENIED"; reason: string } | undefined => {
  if (!matches(policy.allowedAgentTypes, agentType)) {
    return { code: "ERR_POLICY_AGENT_TYPE_DENIED", reason: `agent type ${agentType} is not allowed in this network (allowed: ${policy.allowedAgentTypes.join(", ")})` };
  }
  const denied = capabilities.filter((c) => !matches(policy.allowedCapabilities, c));
  if (denied.length > 0) {
    return { code: "ERR_POLICY_CAPABILITY_DENIED", reason: `capabilities ${denied.join(", ")} are not allowed in this network (allowed: ${policy.allowedCapabilities.join(", ")})` };
  }
  return undefined;
};
