import { connect, type NatsConnection } from "@nats-io/transport-node";
import { TetherError } from "../protocols/index.ts";
import { parseServers } from "./servers.ts";

/** Connects to `--nats` for a one-shot command, runs `fn`, and always closes. */
export const withConnection = async <T>(nats: string | undefined, fn: (nc: NatsConnection) => Promise<T>): Promise<T> => {
  const servers = parseServers(nats);
  if (servers.length === 0) throw new TetherError("ERR_CONFIG_INVALID", "--nats is required (e.g. nats://127.0.0.1:4222)");
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, maxReconnectAttempts: 0, timeout: 5_000 });
  } catch (cause) {
    throw new TetherError("ERR_TRANSPORT_FAILED", `cannot connect to NATS at ${servers.join(",")}: ${String(cause)}`, { cause });
  }
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
};

/** Reads a positional value, or all of stdin when it is `-`. */
export const readArgOrStdin = async (value: string): Promise<string> => {
  if (value !== "-") return value.trim();
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
};
