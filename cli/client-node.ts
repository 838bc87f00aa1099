import { randomUUID } from "node:crypto";
import { Node, silentLogger } from "../runtime/index.ts";
import { credentialsOf } from "./nats-option.ts";
import { parseServers } from "./servers.ts";
import { nodeTls, type TlsFlags } from "./tls-options.ts";

/** The connection flags of a command that runs a short-lived client node. */
export interface ClientNodeFlags extends TlsFlags {
  readonly nats: string;
  readonly network: string;
  readonly creds?: string;
}

/**
 * A short-lived node on `--nats` (no actors of its own, random `cli-` id, gone from the registry when
 * closed), with the command's credentials and TLS flags, that runs `fn` and always closes.
 */
export const withClientNode = async <T>(flags: ClientNodeFlags, fn: (node: Node) => Promise<T>): Promise<T> => {
  const node = await Node.create(
    { network: flags.network, servers: parseServers(flags.nats), ...credentialsOf(flags), ...nodeTls(flags), nodeId: `cli-${randomUUID().slice(0, 8)}` },
    { logger: silentLogger },
  );
  try {
    return await fn(node);
  } finally {
    await node.close();
  }
};
