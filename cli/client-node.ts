import { randomUUID } from "node:crypto";
import { Node, silentLogger } from "../runtime/index.ts";
import { credentialsOf } from "./nats-option.ts";
import { parseServers } from "./servers.ts";

/**
 * A short-lived node on `--nats` (no actors of its own, random `cli-` id, gone from the registry when
 * closed) that runs `fn` and always closes.
 */
export const withClientNode = async <T>(flags: { nats: string; network: string; creds?: string }, fn: (node: Node) => Promise<T>): Promise<T> => {
  const node = await Node.create({ network: flags.network, servers: parseServers(flags.nats), ...credentialsOf(flags), nodeId: `cli-${randomUUID().slice(0, 8)}` }, { logger: silentLogger });
  try {
    return await fn(node);
  } finally {
    await node.close();
  }
};
