import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServer, NetworkAccounts } from "../runtime/index.ts";

/** A single benchmark server whose network is a NATS account: Tether sides connect as nodes, raw sides as the operator. */
export interface AccountsBenchServer {
  readonly server: NatsServer;
  /** Credentials of a node identity (Tether sides) and of the operator (raw sides: `bench.raw.*` is outside every node's permissions). */
  readonly nodeCredentials: string;
  readonly operatorCredentials: string;
  stop(): Promise<void>;
}

export const startAccountsBenchServer = async (network: string, name: string): Promise<AccountsBenchServer> => {
  const dir = mkdtempSync(join(tmpdir(), "tether-bench-accounts-"));
  const accounts = NetworkAccounts.open(dir);
  accounts.create(network, { nodes: 1, replicas: 1 });
  const configFile = join(dir, "server.conf");
  writeFileSync(configFile, `host: 127.0.0.1\nport: -1\nmax_payload: 1MB\njetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\ninclude "accounts.conf"\n`);
  const server = await NatsServer.start({ configFile, name }).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    server,
    nodeCredentials: accounts.credentials(network, "node-1"),
    operatorCredentials: accounts.credentials(network, "operator"),
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
