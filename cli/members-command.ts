import type { Command } from "commander";
import { MemberId, MemberRole, TetherError, memberMayHoldKey } from "../protocols/index.ts";
import { ControlSigner, findLiveNode, sendControl } from "../runtime/index.ts";
import { withConnection } from "./connection.ts";
import { openGovernance, warnUntrusted } from "./governance-client.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";

interface Flags {
  nats: string;
  network: string;
}

interface SignedFlags extends Flags {
  signer: string;
  node?: string;
}

const parseMember = (name: string): string => {
  const id = MemberId.safeParse(name);
  if (!id.success) throw new TetherError("ERR_CONFIG_INVALID", `member <name>: ${id.error.issues[0]?.message ?? "invalid"}`);
  return id.data;
};

/** `tether members …`: the network's members (owner, admin, member), each an identity with keys. */
export const registerMembersCommand = (program: Command): void => {
  const members = examples(program.command("members").description("the network's members: owners, admins and members, each with its keys (see docs/networks-roles.md)"), "tether members ls");
  const common = (c: Command) => c.addOption(natsOption()).option("--network <name>", "network name", "default");
  const signed = (c: Command) =>
    common(c)
      .requiredOption("--signer <file>", "private key file of an owner or admin (who did it: recorded in the ledger)")
      .option("--node <id>", "node that applies and records it (default: any live node)");

  jsonFlag(common(examples(members.command("ls").description("list members: id, role, keys, since, added by"), "tether members ls --json | jq -r .id"))).action((flags: Flags & { json?: boolean }) =>
    withConnection(flags, async (nc) => {
      await using g = await openGovernance(nc, flags.network);
      const rows = g.store.members().map((m) => ({ id: m.id, role: m.role, keys: m.keys, since: new Date(m.since).toISOString(), by: m.by.owner, byKid: m.by.kid }));
      warnUntrusted(g.untrusted);
      printRows(flags.json, rows, {
        head: ["MEMBER", "ROLE", "KEYS", "SINCE", "ADDED BY"],
        cells: (m) => [m.id, m.role, m.keys.map((k) => k.slice(0, 12)).join(","), m.since, m.by],
        empty: `no members in network ${flags.network}`,
      });
    }),
  );

  signed(
    examples(
      members.command("add"),
      "tether members add oscar --role member --signer ~/.tether/olivia.jwk",
      "tether members add ada --role admin --key 3f2a9c... --signer ~/.tether/olivia.jwk",
    )
      .argument("<name>", "the member: the owner name of its keys (`tether keys create-operator <name>`)")
      .option("--role <role>", "owner, admin or member (the membership matrix in docs/networks-roles.md)", "member")
      .option("--key <kid...>", "its keys (default: every active key owned by <name> that the role may hold)")
      .description("add a member, or change a member's role or keys (signed control: checked against the policy and recorded by a node)"),
  ).action((name: string, flags: SignedFlags & { role: string; key?: string[] }) =>
    withConnection(flags, async (nc) => {
      const member = parseMember(name);
      const role = MemberRole.safeParse(flags.role);
      if (!role.success) throw new TetherError("ERR_CONFIG_INVALID", `--role must be one of ${MemberRole.options.join(", ")}`);
      let keys = flags.key;
      if (keys === undefined) {
        await using g = await openGovernance(nc, flags.network);
        keys = g.keys.list().filter((k) => k.owner === member && k.status === "active" && memberMayHoldKey(role.data, k.role)).map((k) => k.kid);
        if (keys.length === 0) throw new TetherError("ERR_MEMBER_KEY_INVALID", `${member} has no active key a ${role.data} may hold: create one with \`tether keys create-operator ${member} --role …\`, or pass --key`);
      }
      const signer = await ControlSigner.fromKeyFile(flags.signer, flags.network);
      const nodeId = flags.node ?? (await findLiveNode(nc, flags.network));
      const answer = (await sendControl(nc, signer, nodeId, { type: "tether.node.v1.member-add", member, role: role.data, keys }, 10_000)) as { event?: string };
      process.stdout.write(`${answer.event ?? "member.added"}: ${member} (${role.data}, ${keys.length} key${keys.length === 1 ? "" : "s"}); recorded by node ${nodeId}\n`);
    }),
  );

  signed(
    examples(members.command("rm"), 'tether members rm oscar --reason "left the team" --signer ~/.tether/olivia.jwk')
      .argument("<name>")
      .option("--reason <text>", "why (recorded)")
      .description("remove a member (its keys stay: revoke them with `tether keys revoke`)"),
  ).action((name: string, flags: SignedFlags & { reason?: string }) =>
    withConnection(flags, async (nc) => {
      const member = parseMember(name);
      const signer = await ControlSigner.fromKeyFile(flags.signer, flags.network);
      const nodeId = flags.node ?? (await findLiveNode(nc, flags.network));
      await sendControl(nc, signer, nodeId, { type: "tether.node.v1.member-remove", member, ...(flags.reason === undefined ? {} : { reason: flags.reason }) }, 10_000);
      process.stdout.write(`member.removed: ${member}; recorded by node ${nodeId}\n`);
    }),
  );
};
