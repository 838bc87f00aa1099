import type { Command } from "commander";
import { CONSENSUS_ACTOR_ID, ConsensusClient } from "../actors/index.ts";
import { ProposalStatus, TetherError, type ConsensusRule, type ProposalRecord } from "../protocols/index.ts";
import { ControlSigner } from "../runtime/index.ts";
import { withClientNode } from "./client-node.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printOne, printRows } from "./output.ts";

interface ConsensusFlags {
  nats: string;
  network: string;
  consensus: string;
  json?: boolean;
}

interface ResolveFlags extends ConsensusFlags {
  truth: string;
  signer: string;
}

const common = (c: Command): Command =>
  jsonFlag(c.addOption(natsOption()).option("--network <name>", "network name", "default").option("--consensus <actor>", "id of the network's consensus actor", CONSENSUS_ACTOR_ID));

const withConsensus = <T>(flags: ConsensusFlags, fn: (client: ConsensusClient) => Promise<T>): Promise<T> =>
  withClientNode(flags, (node) => fn(new ConsensusClient({ actorId: flags.consensus }).use(node)));

const when = (ms: number): string => new Date(ms).toISOString();
const fixed = (x: number): string => x.toFixed(3);
const ruleText = (r: ConsensusRule): string => (r.kind === "supermajority" ? `supermajority ${r.threshold}` : r.kind);

/** The text `tether consensus show` prints: the question, who may vote, each vote, the tally and the outcome. */
export const proposalText = (r: ProposalRecord): string => {
  const p = r.proposal;
  const d = r.decidedBy;
  const decidedBy = r.decision === undefined ? "" : d?.kind === "approval" ? `  (by approval${d.role === undefined ? "" : `, ${d.role}:${d.by ?? "?"}`})` : "  (by vote)";
  const lines = [
    `proposal   ${p.id}  ${r.status}`,
    `kind       ${p.kind}`,
    `question   ${p.question}`,
    `options    ${p.options.join(", ")}`,
    `rule       ${ruleText(p.rule)}, quorum ${p.quorum ?? "a majority of the eligible voters"}`,
    `deadline   ${when(p.deadline)}`,
    ...(Object.keys(p.params).length === 0 ? [] : [`params     ${JSON.stringify(p.params)}`]),
    `eligible   ${r.eligible.join(", ")}  (capability ${p.capability})`,
    ...r.votes.map((v) => `vote       ${v.voter}  ${v.choice}  weight ${fixed(v.weight)} = ${v.declared} × trust ${fixed(v.trust)}  jti ${v.jti}  at ${when(v.at)}`),
    ...r.refused.map((v) => `refused    ${v.voter}  ${v.reason}  at ${when(v.at)}  ${v.detail}`),
    `tally      ${Object.entries(r.tally).map(([option, w]) => `${option} ${fixed(w)}`).join(", ") || "-"}`,
    `decision   ${r.decision ?? "-"}${decidedBy}`,
    ...(r.escalation === undefined ? [] : [`escalation ${r.escalation}${r.approval === undefined ? "" : `  approval ${r.approval} (tether approve ${r.approval} --choice <option>)`}`]),
    ...(r.ect === undefined ? [] : [`ect        ${r.ect}`]),
    ...(r.truth === undefined ? [] : [`truth      ${r.truth}  resolved by ${r.resolvedBy ?? "?"}`]),
  ];
  return `${lines.join("\n")}\n`;
};

const parseStatus = (s: string | undefined): ProposalStatus | undefined => {
  if (s === undefined) return undefined;
  const parsed = ProposalStatus.safeParse(s);
  if (!parsed.success) throw new TetherError("ERR_CONFIG_INVALID", `--status must be one of ${ProposalStatus.options.join(", ")} (got ${s})`);
  return parsed.data;
};

/** `tether consensus ls|show <id>|resolve <id>`: the consensus actor's proposals, their votes and outcome, and the signed truth. */
export const registerConsensusCommand = (program: Command): void => {
  const consensus = examples(program.command("consensus").description("trust-weighted votes of the consensus actor: proposals, votes, decisions, the truth"), "tether consensus ls --status escalated", "tether consensus show router-7");
  common(examples(consensus.command("ls").description("the proposals the consensus actor holds, by deadline"), "tether consensus ls --status open", "tether consensus ls --json | jq -r .id"))
    .option("--status <status>", `only this status (${ProposalStatus.options.join(", ")})`)
    .action((flags: ConsensusFlags & { status?: string }) =>
      withConsensus(flags, async (client) => {
        const rows = await client.list(parseStatus(flags.status));
        printRows(flags.json, rows, {
          head: ["ID", "STATUS", "RULE", "VOTES", "DECISION", "TRUTH", "DEADLINE", "QUESTION"],
          cells: (r) => [r.id, r.status, ruleText(r.rule), `${r.votes}/${r.eligible}${r.refused > 0 ? ` (${r.refused} refused)` : ""}`, r.decision ?? (r.approval === undefined ? "-" : `gate ${r.approval}`), r.truth ?? "-", when(r.deadline), r.question.slice(0, 60)],
          empty: "no proposals",
        });
      }),
    );
  common(examples(consensus.command("show").argument("<proposalId>", "proposal id").description("one proposal: question, eligible voters, votes, tally, decision, escalation, truth"), "tether consensus show router-7")).action(
    (id: string, flags: ConsensusFlags) =>
      withConsensus(flags, async (client) => {
        const record = await client.get(id);
        printOne(flags.json, record, proposalText);
      }),
  );
  common(examples(consensus.command("resolve").argument("<proposalId>", "proposal id").description("report the truth of a tallied proposal (signed): voters who chose it gain trust, the others lose it"), "tether consensus resolve router-7 --truth up --signer ~/.tether/ada.jwk"))
    .requiredOption("--truth <option>", "the option that turned out true")
    .requiredOption("--signer <file>", "private key file of a resolver (by default owner, admin or approver)")
    .action((id: string, flags: ResolveFlags) =>
      withConsensus(flags, async (client) => {
        const signer = await ControlSigner.fromKeyFile(flags.signer, flags.network);
        const record = await client.resolve(signer, id, flags.truth);
        process.stdout.write(flags.json === true ? `${JSON.stringify(record)}\n` : `proposal ${record.proposal.id}: ${record.status}, truth ${record.truth ?? "?"} (decision ${record.decision ?? "none"}); ${record.votes.length} voters' trust moved\n`);
      }),
    );
};
