import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { DEFAULT_NETWORK_STORAGE_MB, NetworkAccounts, credentialsAuthenticator, natsTlsConnectOptions, reloadCluster, runningCluster, type ClusterState, type NetworkInfo } from "../runtime/index.ts";
import { examples } from "./output.ts";
import { parsePositiveInt } from "./servers.ts";

/** The cluster directory `tether cluster up` uses by default (its `--store`). */
export const DEFAULT_CLUSTER_DIR = ".tether/cluster";

interface StoreFlags {
  store: string;
}

const storeOption = (c: Command): Command => c.option("--store <dir>", "the cluster's directory (tether cluster up --store)", DEFAULT_CLUSTER_DIR);

const describeNetwork = (n: NetworkInfo): string =>
  [
    `network ${n.name}: ${n.storageMb} MiB per replica × ${n.replicas} replicas (account JetStream file limit ${n.storageMb * n.replicas} MiB)`,
    ...Object.entries(n.credentials).map(([identity, path]) => `  ${identity.padEnd(9)} ${path}`),
  ].join("\n");

/** The TLS flags a client of a running TLS cluster needs (empty for plaintext). */
const tlsFlagsOf = (running: ClusterState): string =>
  [
    ...(running.tls?.caFile === undefined ? [] : [` --tls-ca ${running.tls.caFile}`]),
    ...(running.tls?.certFile === undefined ? [] : [` --tls-cert ${running.tls.certFile}`]),
    ...(running.tls?.keyFile === undefined ? [] : [` --tls-key ${running.tls.keyFile}`]),
  ].join("");

/** Deletes every stream (and so every bucket) of a network's account, as its operator. */
const deleteStreams = async (running: ClusterState, operatorCreds: string): Promise<string[]> => {
  const nc = await connect({
    servers: running.urls,
    maxReconnectAttempts: 0,
    timeout: 5_000,
    authenticator: credentialsAuthenticator(operatorCreds),
    ...natsTlsConnectOptions(running.tls, running.urls),
  });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    for (const name of names) await jsm.streams.delete(name);
    return names;
  } finally {
    await nc.close();
  }
};

/** `tether network create|ls|rm`: the networks (NATS accounts) of the cluster `tether cluster up` runs. */
export const registerNetworkCommand = (program: Command): void => {
  const network = examples(program.command("network").description("networks (tenants) of the local cluster: one NATS account each, with credentials per identity"), "tether network create acme", "tether network ls");

  storeOption(
    examples(network.command("create").argument("<name>", "network name"), "tether network create acme", "tether network create acme --nodes 5 --storage-mb 256").description(
      "add a network: a NATS account with JetStream limits, and credentials files (0600) for its nodes, ledger, client and operator; reloads a running cluster",
    ),
  )
    .option("--nodes <n>", "node identities to create (node-1 … node-n)", parsePositiveInt("--nodes"), 3)
    .option("--storage-mb <mb>", "storage budget per server holding a replica, MiB", parsePositiveInt("--storage-mb"), DEFAULT_NETWORK_STORAGE_MB)
    .option("--replicas <n>", "replicas of the network's streams", parsePositiveInt("--replicas"), 3)
    .action(async (name: string, flags: StoreFlags & { nodes: number; storageMb: number; replicas: number }) => {
      const dir = resolve(flags.store);
      const accounts = NetworkAccounts.open(dir);
      const info = accounts.create(name, { nodes: flags.nodes, storageMb: flags.storageMb, replicas: flags.replicas });
      const running = runningCluster(dir);
      if (running !== undefined) await reloadCluster(running, accounts.credentials(name, "operator"), "accepted");
      process.stdout.write(`${describeNetwork(info)}\n`);
      process.stdout.write(
        running === undefined
          ? "tether: no cluster runs from this directory; the network exists from the next `tether cluster up`\n"
          : `tether: servers reloaded; e.g. tether node start --nats ${running.urls.join(",")} --network ${name} --creds ${info.credentials["node-1"] ?? info.credentials["operator"]}${tlsFlagsOf(running)} --replicas ${info.replicas}\n`,
      );
    });

  storeOption(examples(network.command("ls"), "tether network ls", "tether network ls --json").description("list the networks, their storage budgets and credentials files"))
    .option("--json", "one JSON object per line")
    .action((flags: StoreFlags & { json?: boolean }) => {
      const dir = resolve(flags.store);
      const list = NetworkAccounts.exists(dir) ? NetworkAccounts.open(dir).list() : [];
      for (const n of list) process.stdout.write(flags.json === true ? `${JSON.stringify({ name: n.name, storageMb: n.storageMb, replicas: n.replicas, createdAt: n.createdAt, credentials: n.credentials })}\n` : `${describeNetwork(n)}\n`);
      if (list.length === 0 && flags.json !== true) process.stdout.write("no networks\n");
    });

  storeOption(examples(network.command("rm").argument("<name>", "network name"), "tether network rm acme").description(
    "remove a network: delete its streams and buckets (on a running cluster), its account and its credentials; reloads a running cluster",
  )).action(async (name: string, flags: StoreFlags) => {
    const dir = resolve(flags.store);
    const accounts = NetworkAccounts.open(dir);
    const operator = readFileSync(accounts.credentials(name, "operator"), "utf8");
    const running = runningCluster(dir);
    const deleted = running === undefined ? [] : await deleteStreams(running, operator);
    accounts.remove(name);
    if (running !== undefined) await reloadCluster(running, operator, "refused");
    process.stdout.write(`tether: network ${name} removed${running === undefined ? " (no cluster runs: its stored data stays until the store is removed)" : `; deleted ${deleted.length} streams and buckets; servers reloaded`}\n`);
  });
};
