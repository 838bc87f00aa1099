import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { NatsCluster, type ClusterTlsFiles } from "../runtime/index.ts";
import { TetherError } from "../protocols/index.ts";
import { examples } from "./output.ts";

interface ClusterUpFlags {
  ports: string;
  routePorts: string;
  store: string;
  config?: string;
  host: string;
  tls?: boolean;
  tlsCerts?: string;
  verifyClients?: boolean;
  insecurePlaintext?: boolean;
  accounts: boolean;
}

const parsePorts = (flag: string, value: string): number[] | undefined => {
  if (value === "auto") return undefined;
  const ports = value.split(",").map((p) => Number(p.trim()));
  if (ports.length !== 3 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new TetherError("ERR_CONFIG_INVALID", `${flag} takes three ports (e.g. 4222,4223,4224) or "auto", got ${JSON.stringify(value)}`);
  }
  return ports;
};

/** `--tls-certs <dir>`: your own certificates, in the layout of the development CA's directory. */
const ownCertificates = (dir: string): ClusterTlsFiles => {
  const file = (name: string) => {
    const path = resolve(dir, name);
    if (!existsSync(path)) throw new TetherError("ERR_CONFIG_INVALID", `--tls-certs ${dir}: ${name} is missing (expected ca.pem, server.pem, server-key.pem, route.pem, route-key.pem)`);
    return path;
  };
  return {
    caFile: file("ca.pem"),
    server: { certFile: file("server.pem"), keyFile: file("server-key.pem") },
    route: { certFile: file("route.pem"), keyFile: file("route-key.pem") },
  };
};

/** The `tls` option of the cluster from the flags: your certificates, the development CA, plaintext, or the default. */
const tlsOption = (flags: ClusterUpFlags): boolean | ClusterTlsFiles | undefined => {
  if (flags.tlsCerts !== undefined) {
    if (flags.tls === false) throw new TetherError("ERR_CONFIG_INVALID", "--tls-certs and --no-tls contradict each other");
    return ownCertificates(flags.tlsCerts);
  }
  return flags.tls;
};

/** `tether cluster up`: the 3-node local cluster from nats.conf, in the foreground until Ctrl-C. */
export const registerClusterCommand = (program: Command): void => {
  const cluster = examples(program.command("cluster").description("a local 3-node NATS cluster for development"), "tether cluster up");
  examples(
    cluster.command("up"),
    "tether cluster up",
    "tether cluster up --tls                      # development CA and certificates in .tether/cluster/tls",
    "tether cluster up --host 10.0.0.5            # off loopback: TLS by default",
    "tether cluster up --ports auto --route-ports auto --store /tmp/tether-cluster",
  )
    .description("start 3 nats-server processes from nats.conf; Ctrl-C stops them. Plaintext on loopback only: TLS (verified) off loopback or with --tls")
    .option("--ports <p1,p2,p3>", 'client ports, or "auto"', "4222,4223,4224")
    .option("--route-ports <p1,p2,p3>", 'route ports, or "auto"', "6222,6223,6224")
    .option("--store <dir>", "cluster directory: JetStream stores, generated config, tls/ certificates", ".tether/cluster")
    .option("--config <file>", "per-node config template (default: the package's nats.conf)")
    .option("--host <addr>", "listen address of clients and routes; not loopback: TLS by default", "127.0.0.1")
    .option("--tls", "TLS for clients and routes with a development CA (made with openssl in <store>/tls; kept across restarts)")
    .option("--no-tls", "plaintext (loopback only, unless --insecure-plaintext)")
    .option("--tls-certs <dir>", "your own certificates instead of the development CA: ca.pem, server.pem, server-key.pem, route.pem, route-key.pem")
    .option("--verify-clients", "with TLS: require a client certificate signed by the CA (mutual TLS)")
    .option("--insecure-plaintext", "allow plaintext on a non-loopback --host (unencrypted, unauthenticated: never in production)")
    .option("--no-accounts", "run without networks as NATS accounts: no authentication, every client sees every network (development only)")
    .action(async (flags: ClusterUpFlags) => {
      const clientPorts = parsePorts("--ports", flags.ports);
      const routePorts = parsePorts("--route-ports", flags.routePorts);
      const tls = tlsOption(flags);
      process.stdout.write("tether: starting a 3-node NATS cluster...\n");
      const c = await NatsCluster.start({
        storeDir: resolve(flags.store),
        host: flags.host,
        ...(tls === undefined ? {} : { tls }),
        ...(flags.verifyClients === true ? { verifyClients: true } : {}),
        ...(flags.insecurePlaintext === true ? { insecurePlaintext: true } : {}),
        ...(clientPorts === undefined ? {} : { clientPorts }),
        ...(routePorts === undefined ? {} : { routePorts }),
        ...(flags.config === undefined ? {} : { configFile: resolve(flags.config) }),
        accounts: flags.accounts,
      });
      if (c.warning !== undefined) process.stderr.write(`tether: warning: ${c.warning}\n`);
      // a new cluster gets the network `default`, so the first node needs nothing but its credentials
      if (c.accounts !== undefined && c.accounts.list().length === 0) {
        c.accounts.create("default");
        await c.reload();
      }
      process.stdout.write(`tether: cluster ready: ${c.urls.join(",")}\n`);
      const clientTls = c.clientTls;
      const tlsFlags = [
        ...(clientTls?.caFile === undefined ? [] : ["--tls-ca", clientTls.caFile]),
        ...(clientTls?.certFile === undefined ? [] : ["--tls-cert", clientTls.certFile]),
        ...(clientTls?.keyFile === undefined ? [] : ["--tls-key", clientTls.keyFile]),
      ].map((f) => `${f} `).join("");
      if (c.tls) {
        process.stdout.write(`tether: TLS on clients and routes (routes verified both ways${flags.verifyClients === true ? ", client certificates required" : ""})\n`);
        if (clientTls?.caFile !== undefined) process.stdout.write(`tether: CA certificate: ${clientTls.caFile}\n`);
        if (clientTls?.certFile !== undefined) process.stdout.write(`tether: client certificate: ${clientTls.certFile} (key ${clientTls.keyFile ?? ""})\n`);
      }
      if (c.accounts === undefined) {
        process.stdout.write("tether: WARNING: --no-accounts: no authentication, any client can read and write every network\n");
        process.stdout.write(`tether: e.g. tether node start --nats ${c.urls.join(",")} ${tlsFlags}--replicas 3 --agents <module>\n`);
      } else {
        for (const n of c.accounts.list()) process.stdout.write(`tether: network ${n.name}: credentials in ${resolve(flags.store, "networks", n.name)}\n`);
        const first = c.accounts.list()[0];
        const creds = first?.credentials["node-1"] ?? first?.credentials["operator"] ?? "<file>";
        process.stdout.write(`tether: e.g. tether node start --nats ${c.urls.join(",")} --network ${first?.name ?? "<name>"} --creds ${creds} ${tlsFlags}--replicas 3 --agents <module>\n`);
        process.stdout.write("tether: tether network create|ls|rm <name> --store <this store> manages networks while the cluster runs\n");
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`tether: ${signal}: stopping the cluster\n`);
        await c.stop();
        process.stdout.write("tether: cluster stopped\n");
        process.exit(0);
      };
      process.on("SIGINT", () => void stop("SIGINT"));
      process.on("SIGTERM", () => void stop("SIGTERM"));
    });
};
