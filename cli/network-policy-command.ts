import type { Command } from "commander";
import { AssuranceProfileName, NetworkPolicy, TetherError, governanceKeys } from "../protocols/index.ts";
import { ControlSigner, findLiveNode, sendControl } from "../runtime/index.ts";
import { withConnection } from "./connection.ts";
import { openGovernance, warnUntrusted } from "./governance-client.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag } from "./output.ts";

interface Flags {
  nats: string;
  network: string;
}

interface SetFlags extends Flags {
  signer: string;
  node?: string;
  maxMembers?: string;
  allowTypes?: string;
  allowCapabilities?: string;
  minProfile?: string;
}

const list = (value: string): string[] =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** The policy `set` sends: the one in force with the flags given applied. Bad values are ERR_CONFIG_INVALID. */
export const applyPolicyFlags = (current: NetworkPolicy, flags: Omit<SetFlags, keyof Flags | "signer" | "node">): NetworkPolicy => {
  const next = {
    ...current,
    ...(flags.maxMembers === undefined ? {} : { maxMembers: Number(flags.maxMembers) }),
    ...(flags.allowTypes === undefined ? {} : { allowedAgentTypes: list(flags.allowTypes) }),
    ...(flags.allowCapabilities === undefined ? {} : { allowedCapabilities: list(flags.allowCapabilities) }),
    ...(flags.minProfile === undefined ? {} : { minProfile: flags.minProfile }),
  };
  const parsed = NetworkPolicy.safeParse(next);
  if (!parsed.success) {
    throw new TetherError("ERR_CONFIG_INVALID", `invalid policy: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
};

/**
 * Adds `policy show|set` to a `network` command. The `network` group itself (create, ls, rm) lives in
 * cli/network-command.ts; `registerNetworkPolicyCommand` uses it when registered, or makes the parent.
 */
export const addPolicyCommand = (network: Command): void => {
  const policy = examples(network.command("policy").description("the network's policy: maximum members, allowed agent types and capabilities, minimum assurance profile"), "tether network policy show");
  const common = (c: Command) => c.addOption(natsOption()).option("--network <name>", "network name", "default");

  jsonFlag(common(examples(policy.command("show").description("print the policy in force (entries that do not verify are ignored and named on stderr)"), "tether network policy show --json"))).action(
    (flags: Flags & { json?: boolean }) =>
      withConnection(flags, async (nc) => {
        await using g = await openGovernance(nc, flags.network);
        warnUntrusted(g.untrusted);
        const current = g.store.current(governanceKeys.policy);
        const policy = g.store.policy();
        const source = current === undefined ? { default: true } : { setBy: current.by, issuedAt: current.issuedAt, node: current.node };
        if (flags.json === true) {
          process.stdout.write(`${JSON.stringify({ network: flags.network, ...policy, members: g.store.members().length, ...source })}\n`);
          return;
        }
        const lines = [
          `network             ${flags.network}`,
          `max members         ${policy.maxMembers} (now ${g.store.members().length})`,
          `allowed agent types ${policy.allowedAgentTypes.join(", ")}`,
          `allowed capabilities ${policy.allowedCapabilities.join(", ")}`,
          `minimum profile     ${policy.minProfile}`,
          current === undefined ? "set by              nobody (the default policy)" : `set by              ${current.by.owner} (${current.by.role} key ${current.by.kid.slice(0, 12)}) at ${new Date(current.issuedAt).toISOString()}`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
  );

  common(
    examples(
      policy.command("set"),
      "tether network policy set --max-members 20 --min-profile standard --signer ~/.tether/ada.jwk",
      'tether network policy set --allow-types "Triage,Pharmacist" --allow-capabilities "billing.*,count" --signer ~/.tether/ada.jwk',
    )
      .requiredOption("--signer <file>", "private key file of an owner or admin (recorded in the ledger)")
      .option("--node <id>", "node that applies and records it (default: any live node)")
      .option("--max-members <n>", "maximum number of members (1-10000)")
      .option("--allow-types <list>", "comma-separated agent class names that may join; * for any, a prefix ending in * for a family")
      .option("--allow-capabilities <list>", "comma-separated capabilities agents may declare; * for any")
      .option("--min-profile <profile>", `minimum assurance profile of nodes: ${AssuranceProfileName.options.join(", ")}`)
      .description("change the policy (fields not given keep their value); signed control, applied and recorded with old and new values by a node"),
  ).action((flags: SetFlags) =>
    withConnection(flags, async (nc) => {
      let next: NetworkPolicy;
      {
        await using g = await openGovernance(nc, flags.network);
        warnUntrusted(g.untrusted);
        next = applyPolicyFlags(g.store.policy(), flags);
      }
      const signer = await ControlSigner.fromKeyFile(flags.signer, flags.network);
      const nodeId = flags.node ?? (await findLiveNode(nc, flags.network));
      await sendControl(nc, signer, nodeId, { type: "tether.node.v1.policy-set", policy: next }, 10_000);
      process.stdout.write(`policy.changed: ${JSON.stringify({ maxMembers: next.maxMembers, allowedAgentTypes: next.allowedAgentTypes, allowedCapabilities: next.allowedCapabilities, minProfile: next.minProfile })}; recorded by node ${nodeId}\n`);
    }),
  );
};

/** Registers `tether network policy …`, under the existing `network` command when there is one. */
export const registerNetworkPolicyCommand = (program: Command): void => {
  const network = program.commands.find((c) => c.name() === "network") ?? program.command("network").description("the cluster's networks (tenants) and their policy");
  addPolicyCommand(network);
};
