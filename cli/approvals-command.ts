import type { Command } from "commander";
import { ApprovalClient, APPROVALS_ACTOR_ID } from "../actors/index.ts";
import { ApprovalStatus, TetherError, type ApprovalRecord } from "../protocols/index.ts";
import { ControlSigner } from "../runtime/index.ts";
import { withClientNode } from "./client-node.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printOne, printRows } from "./output.ts";

interface ApprovalFlags {
  nats: string;
  network: string;
  approvals: string;
}

interface DecideFlags extends ApprovalFlags {
  signer: string;
  reason?: string;
  choice?: string;
}

const common = (c: Command): Command =>
  c
    .addOption(natsOption())
    .option("--network <name>", "network name", "default")
    .option("--approvals <actor>", "id of the network's approvals actor", APPROVALS_ACTOR_ID);

const withApprovals = <T>(flags: ApprovalFlags, fn: (client: ApprovalClient) => Promise<T>): Promise<T> =>
  withClientNode(flags, (node) => fn(new ApprovalClient({ actorId: flags.approvals }).use(node)));

const age = (ms: number): string => (ms < 0 ? `-${age(-ms)}` : ms < 120_000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms / 60_000)}m`);

const describe = (r: ApprovalRecord): string => {
  const lines = [
    `approval  ${r.id}  ${r.status}`,
    `action    ${r.actorId} → ${r.action}  (policy ${r.policy}, gate ${r.gate.type}, level ${r.level})`,
    `summary   ${r.explanation.summary}`,
    `inputs    ${JSON.stringify(r.explanation.inputs)}`,
    ...(r.explanation.rationale === undefined ? [] : [`rationale ${r.explanation.rationale}`]),
    `evidence  ${r.explanation.evidence.join(", ") || "-"}`,
    ...(r.choices === undefined ? [] : [`choices   ${r.choices.join(", ")} (approve with --choice)`]),
    `deciders  ${JSON.stringify(r.level === 0 ? r.gate.deciders : r.gate.escalation[r.level - 1]?.deciders)}`,
    `deadline  ${new Date(r.deadline).toISOString()} (in ${age(r.deadline - Date.now())})`,
    ...(r.requestEct === undefined ? [] : [`request   ECT ${r.requestEct.jti}`]),
    ...r.decisions.map((d) => `decision  ${d.decision} by ${d.role}:${d.by} at ${new Date(d.at).toISOString()}${d.choice === undefined ? "" : ` choice ${d.choice}`}${d.reason === undefined ? "" : ` (${d.reason})`}${d.ect === undefined ? "" : ` ECT ${d.ect.jti}`}`),
  ];
  return `${lines.join("\n")}\n`;
};

const decide = (decision: "approve" | "reject" | "revoke") => (id: string, flags: DecideFlags) =>
  withApprovals(flags, async (client) => {
    if (decision !== "approve" && (flags.reason === undefined || flags.reason.length === 0)) throw new TetherError("ERR_CONFIG_INVALID", `--reason is required to ${decision}`);
    const signer = await ControlSigner.fromKeyFile(flags.signer, flags.network);
    const record = await client.decide(signer, id, decision, flags.reason, flags.choice);
    process.stdout.write(`approval ${record.id}: ${record.status}\n`);
  });

/** `tether approvals ls|show|revoke`, `tether approve <id>`, `tether reject <id>`: the human side of approval gates. */
export const registerApprovalsCommand = (program: Command): void => {
  const approvals = examples(program.command("approvals").description("approval gates: what waits for a human decision"), "tether approvals ls --status pending");
  jsonFlag(common(examples(approvals.command("ls").description("list approvals (newest last)"), "tether approvals ls --status pending", "tether approvals ls --json | jq -r .id")))
    .option("--status <status>", `only this status (${ApprovalStatus.options.join(", ")})`)
    .action((flags: ApprovalFlags & { json?: boolean; status?: string }) =>
      withApprovals(flags, async (client) => {
        const status = flags.status === undefined ? undefined : ApprovalStatus.parse(flags.status);
        const rows = await client.list(status);
        printRows(flags.json, rows, {
          head: ["ID", "STATUS", "ACTOR", "ACTION", "LEVEL", "DEADLINE", "SUMMARY"],
          cells: (r) => [r.id, r.status, r.actorId, r.action, String(r.level), r.status === "pending" ? `in ${age(r.deadline - Date.now())}` : "-", r.explanation.summary.slice(0, 60)],
          empty: "no approvals",
        });
      }),
    );
  jsonFlag(common(examples(approvals.command("show").argument("<id>", "approval id").description("one approval: explanation, deciders, deadline, decisions"), "tether approvals show 6f1c…"))).action(
    (id: string, flags: ApprovalFlags & { json?: boolean }) =>
      withApprovals(flags, async (client) => {
        const record = await client.get(id);
        printOne(flags.json, record, describe);
      }),
  );
  common(examples(approvals.command("revoke").argument("<id>", "approval id").description("revoke an approval before the action runs"), 'tether approvals revoke 6f1c… --reason "wrong patient" --signer ~/.tether/dr.jwk'))
    .requiredOption("--signer <file>", "private key file of a decider (approver, admin or owner)")
    .requiredOption("--reason <text>", "why (recorded)")
    .action(decide("revoke"));
  common(examples(program.command("approve").argument("<id>", "approval id").description("approve a pending approval (signed)"), "tether approve 6f1c… --signer ~/.tether/dr.jwk"))
    .requiredOption("--signer <file>", "private key file of a decider (approver, admin or owner)")
    .option("--reason <text>", "why (recorded)")
    .option("--choice <option>", "for a gate with choices (a consensus escalation): the option approved")
    .action(decide("approve"));
  common(examples(program.command("reject").argument("<id>", "approval id").description("reject a pending approval (signed)"), 'tether reject 6f1c… --reason "dose too high" --signer ~/.tether/dr.jwk'))
    .requiredOption("--signer <file>", "private key file of a decider (approver, admin or owner)")
    .requiredOption("--reason <text>", "why (recorded)")
    .action(decide("reject"));
};
