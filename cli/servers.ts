import { TetherError } from "../protocols/index.ts";

/** Parses `--nats a,b,c` into a server list; bare host:port gets the nats:// scheme. */
export const parseServers = (value: string | undefined): string[] => {
  if (value === undefined || value.trim() === "") return [];
  return value.split(",").map((raw) => {
    const s = raw.trim();
    const url = s.includes("://") ? s : `nats://${s}`;
    try {
      new URL(url);
    } catch {
      throw new TetherError("ERR_CONFIG_INVALID", `--nats: ${JSON.stringify(s)} is not a server URL (expected e.g. nats://127.0.0.1:4222)`);
    }
    return url;
  });
};

/** Parses a positive integer option, with a clear error naming the flag. */
export const parsePositiveInt = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new TetherError("ERR_CONFIG_INVALID", `${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
};

/**
 * The servers of a command that can run its own nats-server: none (the node starts an embedded one)
 * with `--embedded`, else `--nats`. An explicit `--nats` next to `--embedded` is refused; the
 * `TETHER_NATS_URL` default is not (it is simply not used).
 */
export const serversOrEmbedded = (flags: { nats: string; embedded?: boolean }, natsSource: string | undefined): string[] => {
  if (flags.embedded !== true) return parseServers(flags.nats);
  if (natsSource === "cli") throw new TetherError("ERR_CONFIG_INVALID", "--embedded starts its own nats-server: give --embedded or --nats, not both");
  return [];
};
