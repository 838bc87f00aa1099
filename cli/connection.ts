import { connect, type NatsConnection } from "@nats-io/transport-node";
import { TetherError } from "../protocols/index.ts";
import { credentialsAuthenticator } from "../runtime/index.ts";
import { parseServers } from "./servers.ts";

/** Connection flags every connecting command has: `--nats` and (added by `addCredsOptions`) `--creds`. */
export interface ConnectionFlags {
  readonly nats: string | undefined;
  readonly creds?: string;
}

/** Connects to `--nats` (authenticated with `--creds`, if given) for a one-shot command, runs `fn`, and always closes. */
export const withConnection = async <T>(flags: ConnectionFlags, fn: (nc: NatsConnection) => Promise<T>): Promise<T> => {
  const servers = parseServers(flags.nats);
  if (servers.length === 0) throw new TetherError("ERR_CONFIG_INVALID", "--nats is required (e.g. nats://127.0.0.1:4222)");
  const auth = authOf(flags);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, maxReconnectAttempts: 0, timeout: 5_000, ...auth });
  } catch (cause) {
    throw new TetherError("ERR_TRANSPORT_FAILED", `cannot connect to NATS at ${servers.join(",")}: ${String(cause)}`, { cause });
  }
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
