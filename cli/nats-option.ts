import { Option } from "commander";

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
