import { connect, type NatsConnection } from "@nats-io/transport-node";
import { TetherError } from "../protocols/index.ts";
import { credentialsAuthenticator, natsConnectError, natsTlsConnectOptions } from "../runtime/index.ts";
import { parseServers } from "./servers.ts";
import { tlsFromFlags, type TlsFlags } from "./tls-options.ts";

/** The flags a connecting command holds: `--nats`, the TLS flags (cli/tls-options.ts) and (added by `addCredsOptions`) `--creds`. */
export interface ConnectionFlags extends TlsFlags {
  readonly nats?: string | undefined;
  readonly creds?: string;
}

/** Opens a connection for a one-shot command (no reconnects), authenticated with `--creds` if given; a failure is a coded error naming the TLS reason if TLS failed. */
export const openConnection = async (flags: ConnectionFlags): Promise<NatsConnection> => {
  const servers = parseServers(flags.nats);
  if (servers.length === 0) throw new TetherError("ERR_CONFIG_INVALID", "--nats is required (e.g. nats://127.0.0.1:4222)");
  try {
    return await connect({ servers, maxReconnectAttempts: 0, timeout: 5_000, ...authOf(flags), ...natsTlsConnectOptions(tlsFromFlags(flags), servers) });
  } catch (cause) {
    throw natsConnectError(cause, servers, natsTlsConnectOptions(tlsFromFlags(flags), servers).tls);
  }
};

/** Connects to `--nats` (authenticated with `--creds`, TLS per the TLS flags) for a one-shot command, runs `fn`, and always closes. */
export const withConnection = async <T>(flags: ConnectionFlags, fn: (nc: NatsConnection) => Promise<T>): Promise<T> => {
  const nc = await openConnection(flags);
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
};

/** The authenticator for `--creds`, if given (ERR_CREDENTIALS_INVALID for a bad file). */
export const authOf = (flags: { creds?: string }) => (flags.creds === undefined ? {} : { authenticator: credentialsAuthenticator(flags.creds) });

/** Reads a positional value, or all of stdin when it is `-`. */
export const readArgOrStdin = async (value: string): Promise<string> => {
  if (value !== "-") return value.trim();
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
};
