import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type Authenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { TetherError } from "../../protocols/index.ts";
import { natsTlsConnectOptions, type NatsTlsOptions } from "../support/nats-tls.ts";
import { writeConfigDirectory } from "./cluster-config.ts";
import { clientTlsConf, listenerSecurity, routeTlsConf, type ClusterTlsFiles, type ListenerSecurity } from "./cluster-tls.ts";
import { createDevCertificates } from "./dev-certificates.ts";
import { NatsServer, freeLoopbackPort } from "./nats-server.ts";
import { credentialsAuthenticator } from "./credentials.ts";
import { NetworkAccounts } from "./network-accounts.ts";
import { writeClusterConfig, writeClusterState } from "./cluster-accounts.ts";

export interface NatsClusterOptions {
  /** The per-node config template (default: `nats.conf` at the package root). */
  readonly configFile?: string;
  /** Number of servers (default 3). */
  readonly size?: number;
  /** Fixed client ports (e.g. 4222, 4223, 4224); default: free ports. */
  readonly clientPorts?: readonly number[];
  /** Fixed route ports; default: free ports. */
  readonly routePorts?: readonly number[];
  /** Directory for the JetStream stores (default: a temporary directory, removed on stop). */
  readonly storeDir?: string;
  readonly binary?: string;
  /** How long to wait for the JetStream meta leader. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /** Address the client and route listeners bind to (default 127.0.0.1). Off loopback, TLS is the default. */
  readonly host?: string;
  /**
   * TLS of clients and routes (docs/tls.md). `true`: a development CA and certificates in
   * `<storeDir>/tls` (made with openssl). Files: your own certificates. `false`: plaintext, refused off
   * loopback unless `insecurePlaintext`. Default: TLS off loopback, plaintext on it.
   */
  readonly tls?: boolean | ClusterTlsFiles;
  /** With TLS: require a client certificate signed by the CA from every client (mutual TLS). Default false. */
  readonly verifyClients?: boolean;
  /** Allow plaintext on a non-loopback `host` (never the default). */
  readonly insecurePlaintext?: boolean;
  /** Path of openssl for the development certificates (default /usr/bin/openssl). */
  readonly openssl?: string;
  /**
   * Networks as NATS accounts (docs/networks.md): the servers include `<storeDir>/accounts.conf`
   * (kept by `NetworkAccounts`), refuse anonymous clients, and `reload()` applies network changes.
   * Default false (open, as before).
   */
  readonly accounts?: boolean;
}

/** How clients reach a cluster: its TLS settings, for `Node.create({ tls })` and `connect`. */
interface ClusterSecurity {
  readonly listener: ListenerSecurity;
  readonly files: ClusterTlsFiles | undefined;
  readonly clientTls: NatsTlsOptions | undefined;
  readonly configFile: string;
}

const isWildcard = (host: string): boolean => host === "0.0.0.0" || host === "::";
const urlHost = (host: string): string => (host.includes(":") ? `[${host}]` : host);

const defaultConfigFile = (): string => resolve(import.meta.dirname, "..", "..", "nats.conf");

/**
 * A local NATS cluster started from the `nats.conf` template, one `nats-server` process per node,
 * routes and clients on loopback only. Ready when JetStream has a meta leader.
 */
export class NatsCluster {
  readonly servers: NatsServer[];
  readonly #storeDir: string;
  readonly #ownsStore: boolean;
  readonly #options: Required<Pick<NatsClusterOptions, "configFile" | "size">> & NatsClusterOptions;
  readonly #routePorts: number[];
  readonly #security: ClusterSecurity;
  /** The network accounts in the store directory (with `accounts: true`). */
  readonly accounts: NetworkAccounts | undefined;
  #stopped: Promise<void> | undefined;

  private constructor(
    servers: NatsServer[],
    storeDir: string,
    ownsStore: boolean,
    options: NatsClusterOptions,
    routePorts: number[],
    security: ClusterSecurity,
    accounts: NetworkAccounts | undefined,
  ) {
    this.servers = servers;
    this.#security = security;
    this.accounts = accounts;
    this.#storeDir = storeDir;
    this.#ownsStore = ownsStore;
    this.#options = { configFile: options.configFile ?? defaultConfigFile(), size: options.size ?? 3, ...options };
    this.#routePorts = routePorts;
  }

  /** Client URLs of every server, for `connect({ servers })` (`tls://` when the cluster runs TLS). */
  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  /** True when clients and routes use TLS. */
  get tls(): boolean {
    return this.#security.listener.tls;
  }

  /** The TLS certificate files the servers run with (undefined: plaintext). */
  get tlsFiles(): ClusterTlsFiles | undefined {
    return this.#security.files;
  }

  /** What a client passes as `tls` to reach this cluster (the CA, and a client certificate under mutual TLS). */
  get clientTls(): NatsTlsOptions | undefined {
    return this.#security.clientTls;
  }

  /** The warning to print at start when the listeners are plaintext. */
  get warning(): string | undefined {
    return this.#security.listener.warning;
  }

  static async start(options: NatsClusterOptions = {}): Promise<NatsCluster> {
    const size = options.size ?? 3;
    // route ports are picked free, then bound by the servers: another process can take one in between
    // (seen on a busy machine); with ports we picked, pick again and start afresh
    for (let attempt = 1; ; attempt++) {
      const routePorts = options.routePorts !== undefined ? [...options.routePorts] : await Promise.all(Array.from({ length: size }, () => freeLoopbackPort()));
      try {
        return await NatsCluster.#startOnce(options, size, routePorts);
      } catch (error) {
        const taken = error instanceof Error && /address already in use/.test(error.message);
        if (!taken || options.routePorts !== undefined || attempt >= 3) throw error;
      }
    }
  }

  static async #startOnce(options: NatsClusterOptions, size: number, routePorts: number[]): Promise<NatsCluster> {
    const listener = listenerSecurity(options.host ?? "127.0.0.1", options.tls === undefined ? undefined : options.tls !== false, options.insecurePlaintext);
    const ownsStore = options.storeDir === undefined;
    const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "tether-cluster-"));
    const accounts = options.accounts === true ? NetworkAccounts.open(storeDir) : undefined;
    const template = options.configFile ?? defaultConfigFile();
    const servers: NatsServer[] = [];
    try {
      // The template is copied into <store>/config/ next to its TLS includes; with accounts,
      // <store>/server.conf includes that copy (by relative path) and then accounts.conf.
      const prepared = await NatsCluster.#prepareSecurity(listener, template, storeDir, options);
      const security = accounts === undefined ? prepared : { ...prepared, configFile: writeClusterConfig(storeDir, prepared.configFile) };
      for (let i = 0; i < size; i++) {
        servers.push(await NatsServer.start(NatsCluster.#serverOptions(i, security.configFile, routePorts, storeDir, options, security)));
      }
      const cluster = new NatsCluster(servers, storeDir, ownsStore, options, routePorts, security, accounts);
      await cluster.waitForJetStream(options.readyTimeoutMs ?? 30_000);
      if (accounts !== undefined) writeClusterState(storeDir, servers, security.clientTls);
      return cluster;
    } catch (error) {
      await Promise.all(servers.map((s) => s.stop()));
      if (ownsStore) rmSync(storeDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The certificates (made or given) and the config directory with the generated TLS includes. */
  static async #prepareSecurity(listener: ListenerSecurity, template: string, storeDir: string, options: NatsClusterOptions): Promise<ClusterSecurity> {
    const host = options.host ?? "127.0.0.1";
    const verifyClients = listener.tls && options.verifyClients === true;
    let files: ClusterTlsFiles | undefined;
    let clientTls: NatsTlsOptions | undefined;
    if (listener.tls && typeof options.tls === "object") {
      files = options.tls;
      clientTls = { caFile: files.caFile };
    } else if (listener.tls) {
      const dev = await createDevCertificates({ dir: join(storeDir, "tls"), hosts: [host], ...(options.openssl === undefined ? {} : { openssl: options.openssl }) });
      files = dev;
      clientTls = verifyClients ? { caFile: dev.caFile, certFile: dev.client.certFile, keyFile: dev.client.keyFile } : { caFile: dev.caFile };
    }
    const configFile = writeConfigDirectory(template, join(storeDir, "config"), {
      "client-tls.conf": clientTlsConf(files, verifyClients),
      "route-tls.conf": routeTlsConf(files),
    });
    return { listener, files, clientTls, configFile };
  }

  static #serverOptions(i: number, configFile: string, routePorts: number[], storeDir: string, options: NatsClusterOptions, security: ClusterSecurity) {
    const name = `n${i + 1}`;
    const store = join(storeDir, name);
    mkdirSync(store, { recursive: true });
    const host = options.host ?? "127.0.0.1";
    const routeHost = urlHost(isWildcard(host) ? "127.0.0.1" : host);
    const env: Record<string, string> = {
      TETHER_SERVER_NAME: name,
      TETHER_HOST: host,
      TETHER_CLIENT_PORT: String(options.clientPorts?.[i] ?? -1),
      TETHER_CLUSTER_PORT: String(routePorts[i]),
      TETHER_STORE_DIR: store,
    };
    for (let r = 0; r < 3; r++) env[`TETHER_ROUTE_${r + 1}`] = `nats-route://${routeHost}:${routePorts[r] ?? routePorts[0]}`;
    return { configFile, env, name, ...(options.binary === undefined ? {} : { binary: options.binary }), ...(security.listener.tls ? { tls: true } : {}) };
  }

  /** Restarts server `index` (after `kill` or `stopServer`) with the same ports and store. */
  async restartServer(index: number): Promise<NatsServer> {
    const old = this.servers[index];
    if (old === undefined) throw new TetherError("ERR_CONFIG_INVALID", `no server ${index}`);
    await old.stop();
    const port = old.port;
    const server = await NatsServer.start(
      NatsCluster.#serverOptions(
        index,
        this.#security.configFile,
        this.#routePorts,
        this.#storeDir,
        { ...this.#options, clientPorts: this.servers.map((s, i) => (i === index ? port : s.port)) },
        this.#security,
      ),
    );
    this.servers[index] = server;
    if (this.accounts !== undefined) writeClusterState(this.#storeDir, this.servers, this.#security.clientTls);
    return server;
  }

  /** Makes every server re-read its config (accounts.conf after a network change); resolves when each has. */
  async reload(timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.servers.map((s) => s.reload(timeoutMs)));
  }

  /** Waits until JetStream answers through every server (meta leader elected). */
  async waitForJetStream(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const server of this.servers) {
      const nc = await connect({ servers: server.url, reconnect: false, ...natsTlsConnectOptions(this.#security.clientTls, [server.url]), ...this.#auth() });
      try {
        for (;;) {
          try {
            const jsm = await jetstreamManager(nc, { timeout: 2_000 });
            await jsm.getAccountInfo();
            break;
          } catch (error) {
            if (Date.now() > deadline) {
              throw new TetherError("ERR_SERVER_START_FAILED", `cluster JetStream not ready after ${timeoutMs} ms`, { cause: error });
            }
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      } finally {
        await nc.close();
      }
    }
  }

  #auth(): { authenticator?: Authenticator } {
    return this.accounts === undefined ? {} : { authenticator: credentialsAuthenticator(this.accounts.clusterCredentials) };
  }

  /** Stops every server and removes a temporary store. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await Promise.all(this.servers.map((s) => s.stop()));
      if (this.#ownsStore) rmSync(this.#storeDir, { recursive: true, force: true });
    })();
    return this.#stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
