import type { Command } from "commander";
import { Registry, systemClock } from "../runtime/index.ts";
import { isLeaseAlive, networkSubjects } from "../protocols/index.ts";
import { withConnection } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";

/** `tether nodes ls`: every node lease in the registry, live or expired. */
export const registerNodesCommand = (program: Command): void => {
  const nodes = examples(program.command("nodes").description("inspect the nodes of a network"), "tether nodes ls");
  jsonFlag(
    examples(
      nodes.command("ls").description("list the nodes recorded in the network's registry, with their lease and actor count"),
      "tether nodes ls --nats nats://127.0.0.1:4222",
      "tether nodes ls --json | jq -r 'select(.status == \"live\") | .id'",
    )
      .addOption(natsOption())
      .option("--network <name>", "network (tenant) name", "default"),
  ).action((flags: { nats: string; network: string; json?: boolean }) =>
    withConnection(flags, async (nc) => {
      const registry = await Registry.open(nc, networkSubjects(flags.network), { replicas: 1, clock: systemClock });
      const now = systemClock.now();
      const rows = (await registry.listNodes())
        .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
        .map((n) => ({
          id: n.nodeId,
          status: isLeaseAlive(n, now) ? "live" : "dead",
          actors: n.actorCount,
          epoch: n.epoch,
          host: n.host,
          pid: n.pid,
          startedAt: new Date(n.startedAt).toISOString(),
          heartbeatAgoMs: Math.max(0, now - n.heartbeatAt),
          leaseTtlMs: n.leaseTtlMs,
        }));
      printRows(flags.json, rows, {
        head: ["ID", "STATUS", "ACTORS", "EPOCH", "HOST", "PID", "STARTED", "HEARTBEAT"],
        cells: (r) => [r.id, r.status, String(r.actors), String(r.epoch), r.host, String(r.pid), r.startedAt, `${(r.heartbeatAgoMs / 1000).toFixed(1)}s ago`],
        empty: `no nodes in network ${flags.network}`,
      });
    }),
  );
};
