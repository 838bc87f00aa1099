import { resolve } from "node:path";
import type { Command } from "commander";
import { NatsCluster } from "../runtime/index.ts";
import { TetherError } from "../protocols/index.ts";
import { examples } from "./output.ts";

interface ClusterUpFlags {
  ports: string;
  routePorts: string;
  store: string;
  config?: string;
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

/** `tether cluster up`: the 3-node local cluster from nats.conf, in the foreground until Ctrl-C. */
export const registerClusterCommand = (program: Command): void => {
  const cluster = examples(program.command("cluster").description("a local 3-node NATS cluster for development"), "tether cluster up");
  examples(cluster.command("up"), "tether cluster up", "tether cluster up --ports auto --route-ports auto --store /tmp/tether-cluster")
    .description("start 3 nats-server processes from nats.conf (loopback only); Ctrl-C stops them")
    .option("--ports <p1,p2,p3>", 'client ports, or "auto"', "4222,4223,4224")
    .option("--route-ports <p1,p2,p3>", 'route ports, or "auto"', "6222,6223,6224")
    .option("--store <dir>", "JetStream store directory", ".tether/cluster")
    .option("--config <file>", "per-node config template (default: the package's nats.conf)")
    .option("--no-accounts", "run without networks as NATS accounts: no authentication, every client sees every network (development only)")
    .action(async (flags: ClusterUpFlags) => {
      const clientPorts = parsePorts("--ports", flags.ports);
      const routePorts = parsePorts("--route-ports", flags.routePorts);
      process.stdout.write("tether: starting a 3-node NATS cluster...\n");
      const c = await NatsCluster.start({
        storeDir: resolve(flags.store),
        ...(clientPorts === undefined ? {} : { clientPorts }),
        ...(routePorts === undefined ? {} : { routePorts }),
        ...(flags.config === undefined ? {} : { configFile: resolve(flags.config) }),
        accounts: flags.accounts,
      });
      // a new cluster gets the network `default`, so the first node needs nothing but its credentials
      if (c.accounts !== undefined && c.accounts.list().length === 0) {
        c.accounts.create("default");
        await c.reload();
      }
      process.stdout.write(`tether: cluster ready: ${c.urls.join(",")}\n`);
      if (c.accounts === undefined) {
        process.stdout.write("tether: WARNING: --no-accounts: no authentication, any client can read and write every network\n");
        process.stdout.write(`tether: e.g. tether node start --nats ${c.urls.join(",")} --replicas 3 --agents <module>\n`);
      } else {
        for (const n of c.accounts.list()) process.stdout.write(`tether: network ${n.name}: credentials in ${resolve(flags.store, "networks", n.name)}\n`);
        const first = c.accounts.list()[0];
        const creds = first?.credentials["node-1"] ?? first?.credentials["operator"] ?? "<file>";
        process.stdout.write(`tether: e.g. tether node start --nats ${c.urls.join(",")} --network ${first?.name ?? "<name>"} --creds ${creds} --replicas 3 --agents <module>\n`);
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
