import { Option, type Command } from "commander";

/** The NATS URL every command uses when neither `--nats` nor `TETHER_NATS_URL` is given. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** The environment variable that overrides the default of `--nats` for every command. */
export const NATS_URL_ENV = "TETHER_NATS_URL";

/**
 * `--nats <urls>`, the same for every command: `--nats` wins, then `TETHER_NATS_URL`, then
 * DEFAULT_NATS_URL. Commander reads the environment when it parses, so the program holds no state.
 */
export const natsOption = (description = "comma-separated NATS server URLs"): Option =>
  new Option("--nats <urls>", description).env(NATS_URL_ENV).default(DEFAULT_NATS_URL);

/** The environment variable that gives `--creds` for every command. */
export const CREDS_ENV = "TETHER_CREDS";

/** `--creds <file>`: the credentials file of your identity in the network (docs/networks.md). */
export const credsOption = (): Option =>
  new Option("--creds <file>", "credentials file of your identity in the network (written by `tether network create`)").env(CREDS_ENV);

/**
 * Gives every command that takes `--nats` the matching `--creds`, so the two always travel together.
 * Call once, after every command is registered.
 */
export const addCredsOptions = (command: Command): void => {
  for (const sub of command.commands) {
    if (sub.options.some((o) => o.long === "--nats") && !sub.options.some((o) => o.long === "--creds")) sub.addOption(credsOption());
    addCredsOptions(sub);
  }
};

/** The node option for `--creds`, if given. */
export const credentialsOf = (flags: { creds?: string }): { credentials?: string } => (flags.creds === undefined ? {} : { credentials: flags.creds });
