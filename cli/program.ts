import { Command } from "commander";
import { registerAgentsCommand } from "./agents-command.ts";
import { registerApprovalsCommand } from "./approvals-command.ts";
import { registerTrustCommand } from "./trust-command.ts";
import { registerConsensusCommand } from "./consensus-command.ts";
import { registerWorkflowCommand } from "./workflow-command.ts";
import { registerAuditCommand } from "./audit-command.ts";
import { registerClusterCommand } from "./cluster-command.ts";
import { registerDlqCommand } from "./dlq-command.ts";
import { registerEctCommand } from "./ect-command.ts";
import { registerKeysCommand } from "./keys-command.ts";
import { registerMembersCommand } from "./members-command.ts";
import { registerMessageCommands } from "./message-commands.ts";
import { registerNetworkPolicyCommand } from "./network-policy-command.ts";
import { registerNodeCommand } from "./node-command.ts";
import { registerNodesCommand } from "./nodes-command.ts";
import { registerOverrideCommands } from "./override-commands.ts";
import { DEFAULT_NATS_URL, NATS_URL_ENV, addCredsOptions } from "./nats-option.ts";
import { registerNetworkCommand } from "./network-command.ts";
import { addTlsOptions } from "./tls-options.ts";
import { registerUsageCommand } from "./usage-command.ts";

/** The `tether` command line. Each command registers itself from its own file. */
export const buildProgram = (): Command => {
  const program = new Command("tether")
    .description("Tether: supervised actors on NATS for running multi-agent systems safely")
    .version("0.1.0")
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(`tether: ${text}`) })
    .addHelpText(
      "after",
      `\nEvery command that talks to NATS takes --nats <urls> (default ${DEFAULT_NATS_URL}, or $${NATS_URL_ENV}),\n` +
        "--creds <file> (or $TETHER_CREDS): your identity's credentials when networks are NATS accounts (docs/networks.md),\n" +
        "and --tls-ca/--tls-cert/--tls-key <file> (or $TETHER_TLS_CA/_CERT/_KEY; docs/tls.md).\n" +
        "Errors print `tether: error ERR_CODE: message` and exit 1.\n\n" +
        "Example:\n  $ tether node start --agents examples/triage/agents.ts\n  $ tether ask cli-counter '{\"type\":\"inc\"}'\n",
    );
  registerNodeCommand(program);
  registerNodesCommand(program);
  registerAgentsCommand(program);
  registerMessageCommands(program);
  registerDlqCommand(program);
  registerClusterCommand(program);
  registerEctCommand(program);
  registerKeysCommand(program);
  registerMembersCommand(program);
  registerNetworkCommand(program);
  // after the `network` group (create, ls, rm) when it is registered: `policy` joins it
  registerNetworkPolicyCommand(program);
  registerAuditCommand(program);
  registerUsageCommand(program);
  registerOverrideCommands(program);
  registerApprovalsCommand(program);
  registerWorkflowCommand(program);
  registerTrustCommand(program);
  registerConsensusCommand(program);
  addTlsOptions(program); // --tls-ca/--tls-cert/--tls-key on every command that takes --nats
  addCredsOptions(program); // last: every command with --nats gets --creds
  return program;
};
