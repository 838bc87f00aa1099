import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NatsServer, NetworkAccounts, credentialsAuthenticator } from "../../runtime/index.ts";

/** One JetStream server on loopback whose networks are NATS accounts (single server: replicas 1). */
export interface AccountsServer extends AsyncDisposable {
  readonly server: NatsServer;
  readonly accounts: NetworkAccounts;
  readonly url: string;
  /** A plain NATS client holding the credentials of `identity` in `network`. */
  connectAs(network: string, identity: string): Promise<NatsConnection>;
}

export const startAccountsServer = async (networks: readonly string[], storageMb: Readonly<Record<string, number>> = {}): Promise<AccountsServer> => {
  const dir = mkdtempSync(join(tmpdir(), "tether-accounts-"));
  const accounts = NetworkAccounts.open(dir);
  for (const name of networks) accounts.create(name, { nodes: 2, replicas: 1, ...(storageMb[name] === undefined ? {} : { storageMb: storageMb[name] }) });
  const configFile = join(dir, "server.conf");
  writeFileSync(configFile, `host: 127.0.0.1\nport: -1\njetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\ninclude "accounts.conf"\n`);
  let server: NatsServer;
  try {
    server = await NatsServer.start({ configFile, name: "accounts" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    server,
    accounts,
    url: server.url,
    connectAs: (network, identity) => connect({ servers: server.url, authenticator: credentialsAuthenticator(accounts.credentials(network, identity)) }),
    async [Symbol.asyncDispose]() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
