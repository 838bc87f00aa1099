import type { Command } from "commander";
import { TetherError, networkSubjects, parseRecord } from "../protocols/index.ts";
import { KvEctStore, LedgerStream, rollUpUsage, type UsageGrouping } from "../runtime/index.ts";
import { withConnection } from "./connection.ts";
import { natsOption } from "./nats-option.ts";
import { examples, jsonFlag, printRows } from "./output.ts";

/** `tether usage --by agent|workflow|network`: resource accounting rolled up from recorded ECTs. */
export const registerUsageCommand = (program: Command): void => {
  jsonFlag(
    examples(
      program.command("usage").description("resource usage (actions, time, CPU, messages, bytes, reported units) rolled up from recorded ECTs"),
      "tether usage --by workflow",
      "tether usage --by agent --source ledger --json",
    )
      .option("--by <grouping>", "agent | workflow | network", "agent")
      .option("--source <source>", "store (the ECT DAG store, every profile) | ledger (the audit ledger)", "store")
      .addOption(natsOption())
      .option("--network <name>", "network name", "default"),
  ).action((flags: { by: string; source: string; nats: string; network: string; json?: boolean }) => {
    if (!["agent", "workflow", "network"].includes(flags.by)) throw new TetherError("ERR_CONFIG_INVALID", `--by must be agent, workflow or network, got ${JSON.stringify(flags.by)}`);
    if (!["store", "ledger"].includes(flags.source)) throw new TetherError("ERR_CONFIG_INVALID", `--source must be store or ledger`);
    return withConnection(flags, async (nc) => {
      const subjects = networkSubjects(flags.network);
      const tokens: { token: string; network: string }[] = [];
      if (flags.source === "ledger") {
        for (const raw of await LedgerStream.readAll(nc, subjects)) {
          try {
            const r = parseRecord(raw);
            if (r.kind === "ect") tokens.push({ token: r.body.token, network: r.network });
          } catch {
            /* not a valid record: `tether audit verify` reports it */
          }
        }
      } else {
        const store = await KvEctStore.open(nc, subjects, { replicas: 1, maxAgeMs: 7 * 24 * 3600 * 1000 });
        for await (const r of store.all()) tokens.push({ token: r.token, network: flags.network });
      }
      const rows = rollUpUsage(tokens, flags.by as UsageGrouping);
      printRows(flags.json, rows, {
        head: [flags.by.toUpperCase(), "ACTIONS", "FAILED", "REFUSED", "WALL_MS", "CPU_MS", "MESSAGES", "BYTES", "UNITS"],
        empty: "no recorded actions",
        cells: (r) => [
          r.key,
          String(r.actions),
          String(r.failed),
          String(r.refused),
          r.wallMs.toFixed(0),
          (r.cpuUs / 1000).toFixed(1),
          String(r.messages),
          String(r.bytes),
          Object.entries(r.units).map(([u, n]) => `${u}=${n}`).join(",") || "-",
        ],
      });
    });
  });
};
