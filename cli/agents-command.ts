import type { Command } from "commander";
import { Registry, systemClock } from "../runtime/index.ts";
import { isLeaseAlive, networkSubjects } from "../protocols/index.ts";
import { withConnection } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";

interface AgentsLsFlags {
  nats: string;
  network: string;
  json?: boolean;
}

/** `tether agents ls`: every actor in the registry, with its class, capabilities, node and liveness. */
export const registerAgentsCommand = (program: Command): void => {
  const agents = examples(program.command("agents").description("inspect the agents of a network"), "tether agents ls");
  jsonFlag(
    examples(
      agents.command("ls").description("list the actors recorded in the network's registry"),
      "tether agents ls --nats nats://127.0.0.1:4222 --network default",
      "tether agents ls --json | jq -r 'select(.status == \"stale\") | .id'",
    )
      .addOption(natsOption())
      .option("--network <name>", "network (tenant) name", "default"),
  ).action((flags: AgentsLsFlags) =>
    withConnection(flags, async (nc) => {
      const registry = await Registry.open(nc, networkSubjects(flags.network), { replicas: 1, clock: systemClock });
      const [actors, nodes] = await Promise.all([registry.listActors(), registry.listNodes()]);
      const now = systemClock.now();
      const nodeById = new Map(nodes.map((n) => [n.nodeId, n]));
      const rows = actors.map((a) => {
        const n = nodeById.get(a.nodeId);
        const alive = n !== undefined && n.epoch === a.nodeEpoch && isLeaseAlive(n, now);
        return { id: a.actorId, class: a.className, capabilities: a.capabilities, node: a.nodeId, status: alive ? "live" : "stale" };
      });
      printRows(flags.json, rows, {
        head: ["ID", "CLASS", "CAPABILITIES", "NODE", "STATUS"],
        cells: (r) => [r.id, r.class, r.capabilities.join(",") || "-", r.node, r.status],
        empty: `no agents in network ${flags.network}`,
      });
    }),
  );
};
