import type { Command } from "commander";
import { Registry, systemClock } from "../runtime/index.ts";
import { isLeaseAlive, networkSubjects } from "../protocols/index.ts";
import { printTable, withConnection } from "./connection.ts";

interface AgentsLsFlags {
  nats?: string;
  network: string;
  json?: boolean;
}

/** `tether agents ls`: every actor in the registry, with its class, capabilities, node and liveness. */
export const registerAgentsCommand = (program: Command): void => {
  const agents = program.command("agents").description("inspect the agents of a network");
  agents
    .command("ls")
    .description("list the actors recorded in the network's registry")
    .option("--nats <urls>", "comma-separated NATS server URLs", "nats://127.0.0.1:4222")
    .option("--network <name>", "network (tenant) name", "default")
    .option("--json", "one JSON object per line")
    .action((flags: AgentsLsFlags) =>
      withConnection(flags.nats, async (nc) => {
        const registry = await Registry.open(nc, networkSubjects(flags.network), { replicas: 1, clock: systemClock });
        const [actors, nodes] = await Promise.all([registry.listActors(), registry.listNodes()]);
        const now = systemClock.now();
        const nodeById = new Map(nodes.map((n) => [n.nodeId, n]));
        const rows = actors.map((a) => {
          const n = nodeById.get(a.nodeId);
          const alive = n !== undefined && n.epoch === a.nodeEpoch && isLeaseAlive(n, now);
          return { id: a.actorId, class: a.className, capabilities: a.capabilities, node: a.nodeId, status: alive ? "live" : "stale" };
        });
        if (flags.json === true) {
          for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
          return;
        }
        if (rows.length === 0) {
          process.stdout.write(`no agents in network ${flags.network}\n`);
          return;
        }
        printTable(["ID", "CLASS", "CAPABILITIES", "NODE", "STATUS"], rows.map((r) => [r.id, r.class, r.capabilities.join(",") || "-", r.node, r.status]));
      }),
    );
};
