import { Option, type Command } from "commander";
import { TetherError } from "../protocols/index.ts";
import type { NatsTlsOptions } from "../runtime/index.ts";

/** The environment variables that give the defaults of `--tls-ca`, `--tls-cert` and `--tls-key`. */
export const TLS_ENV = { ca: "TETHER_TLS_CA", cert: "TETHER_TLS_CERT", key: "TETHER_TLS_KEY" } as const;

/** The TLS flags of a connecting command, as commander parses them. */
export interface TlsFlags {
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

/**
 * Adds `--tls-ca`, `--tls-cert` and `--tls-key` to every command that takes `--nats` (so each command
 * file need not list them). Called once by `buildProgram`, after every command is registered.
 */
export const addTlsOptions = (program: Command): void => {
  const visit = (command: Command): void => {
    if (command.options.some((o) => o.long === "--nats")) {
      command
        .addOption(new Option("--tls-ca <file>", "CA certificate to verify the NATS servers with (e.g. the cluster's tls/ca.pem)").env(TLS_ENV.ca))
        .addOption(new Option("--tls-cert <file>", "client certificate, for servers that verify clients (mutual TLS)").env(TLS_ENV.cert))
        .addOption(new Option("--tls-key <file>", "private key of --tls-cert").env(TLS_ENV.key));
    }
    for (const sub of command.commands) visit(sub);
  };
  visit(program);
};

/** The node's / client's `tls` option from the flags; undefined when none is given. */
export const tlsFromFlags = (flags: TlsFlags): NatsTlsOptions | undefined => {
  const { tlsCa, tlsCert, tlsKey } = flags;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new TetherError("ERR_CONFIG_INVALID", "--tls-cert and --tls-key go together (a client certificate and its key)");
  }
  if (tlsCa === undefined && tlsCert === undefined) return undefined;
  return {
    ...(tlsCa === undefined ? {} : { caFile: tlsCa }),
    ...(tlsCert === undefined ? {} : { certFile: tlsCert }),
    ...(tlsKey === undefined ? {} : { keyFile: tlsKey }),
  };
};

/** `{ tls }` to spread into `Node.create` options, or nothing. */
export const nodeTls = (flags: TlsFlags): { tls?: NatsTlsOptions } => {
  const tls = tlsFromFlags(flags);
  return tls === undefined ? {} : { tls };
};
