import type { NatsConnection } from "@nats-io/transport-node";
import { networkSubjects } from "../protocols/index.ts";
import { GovernanceStore, KeyRegistry, historicKeys, silentLogger, systemClock } from "../runtime/index.ts";

/**
 * Opens a network's key registry and governance bucket read-only in spirit (a CLI never writes them:
 * changes go as signed control to a node). Entries are verified on read exactly as nodes do; the
 * ones that do not verify are counted in `untrusted` (and named on stderr by the commands).
 */
export const openGovernance = async (nc: NatsConnection, network: string): Promise<{ store: GovernanceStore; keys: KeyRegistry; untrusted: string[] } & AsyncDisposable> => {
  const subjects = networkSubjects(network);
  const keys = await KeyRegistry.open(nc, subjects, { replicas: 1, clock: systemClock, logger: silentLogger });
  const untrusted: string[] = [];
  const store = await GovernanceStore.open(nc, subjects, historicKeys(keys), {
    replicas: 1,
    logger: silentLogger,
    maxBytes: 1024 * 1024,
    onUntrusted: (key, error) => untrusted.push(`${key}: ${error.message}`),
  });
  return {
    store,
    keys,
    untrusted,
    [Symbol.asyncDispose]: async () => {
      store.close();
      keys.close();
    },
  };
};

/** Names the bucket entries that did not verify (they are ignored), on stderr. */
export const warnUntrusted = (untrusted: readonly string[]): void => {
  for (const line of untrusted.slice(0, 20)) process.stderr.write(`tether: warning: ignored an untrusted governance entry (${line})\n`);
  if (untrusted.length > 20) process.stderr.write(`tether: warning: … and ${untrusted.length - 20} more untrusted entries\n`);
};
