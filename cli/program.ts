import { Command } from "commander";
import { registerAgentsCommand } from "./agents-command.ts";
import { registerAuditCommand } from "./audit-command.ts";
import { registerClusterCommand } from "./cluster-command.ts";
import { registerDlqCommand } from "./dlq-command.ts";
import { registerEctCommand } from "./ect-command.ts";
import { registerKeysCommand } from "./keys-command.ts";
import { registerMessageCommands } from "./message-commands.ts";
import { registerNodeCommand } from "./node-command.ts";
import { registerNodesCommand } from "./nodes-command.ts";
import { DEFAULT_NATS_URL, NATS_URL_ENV } from "./nats-option.ts";
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
      `\nEvery command that talks to NATS takes --nats <urls> (default ${DEFAULT_NATS_URL}, or $${NATS_URL_ENV})\n` +
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
  registerAuditCommand(program);
  registerUsageCommand(program);
  addTlsOptions(program); // --tls-ca/--tls-cert/--tls-key on every command that takes --nats
  return program;
};
