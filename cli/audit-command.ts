import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { NatsConnection } from "@nats-io/transport-node";
import { AuditLedger, createAuditLedgerDeps } from "../actors/index.ts";
import {
  JwksKeyResolver,
  TetherError,
  canonicalJson,
  networkSubjects,
  stitchWorkflow,
  verifyLedger,
  type ResolveCheckpointKey,
} from "../protocols/index.ts";
import { KeyRegistry, LedgerStream, Node, createStderrLogger, silentLogger, systemClock } from "../runtime/index.ts";
import { withConnection } from "./connection.ts";
import { parsePositiveInt, parseServers } from "./servers.ts";

interface LedgerFlags {
  nats?: string;
  network: string;
  file?: string;
  jwks?: string;
}

const common = (c: Command) =>
  c
    .option("--nats <urls>", "comma-separated NATS server URLs", "nats://127.0.0.1:4222")
    .option("--network <name>", "network name", "default")
    .option("--file <path>", "read the ledger from a JSONL export instead of the live stream")
    .option("--jwks <file>", "with --file: JWKS holding the ledger's checkpoint key (default: the network's key registry)");

const readJsonl = (path: string): unknown[] => {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `cannot read ${path}: ${String(cause)}`, { cause });
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        return line; // verifyLedger reports an unparseable record where it stands
      }
    });
};

/** Loads records (live or from a file) and a checkpoint-key resolver, and runs `fn` with them. */
const withLedger = async <T>(flags: LedgerFlags, fn: (records: unknown[], resolveKey: ResolveCheckpointKey) => Promise<T>): Promise<T> => {
  if (flags.file !== undefined && flags.jwks !== undefined) {
    const resolver = new JwksKeyResolver(JSON.parse(readFileSync(flags.jwks, "utf8")) as { keys: unknown[] });
    return fn(readJsonl(flags.file), (kid) => resolver.resolve(kid));
  }
  return withConnection(flags.nats, async (nc) => {
    await using keys = await KeyRegistry.open(nc, networkSubjects(flags.network), { replicas: 1, clock: systemClock, logger: silentLogger });
    const records = flags.file !== undefined ? readJsonl(flags.file) : await LedgerStream.readAll(nc, networkSubjects(flags.network));
    return fn(records, (kid) => keys.resolve(kid));
  });
};

const isRecord = (r: unknown): r is Record<string, unknown> => typeof r === "object" && r !== null;

/** `tether audit …`: host, verify, query, export and stitch the tamper-evident ledger. */
export const registerAuditCommand = (program: Command): void => {
  const audit = program.command("audit").description("the tamper-evident audit ledger");

  audit
    .command("serve")
    .description("run a node hosting the network's audit ledger actor (independent of the workflow agents)")
    .option("--nats <urls>", "comma-separated NATS server URLs (default: embedded server)")
    .option("--network <name>", "network name", "default")
    .option("--replicas <n>", "JetStream replicas", parsePositiveInt("--replicas"))
    .option("--key-dir <dir>", "directory of the ledger's private key", ".tether/keys")
    .option("--checkpoint-every <n>", "records per signed checkpoint", parsePositiveInt("--checkpoint-every"), 100)
    .action(async (flags: { nats?: string; network: string; replicas?: number; keyDir: string; checkpointEvery: number }) => {
      const node = await Node.create(
        {
          network: flags.network,
          servers: parseServers(flags.nats),
          ...(flags.replicas === undefined ? {} : { jetstreamReplicas: flags.replicas }),
          assurance: { keyDir: flags.keyDir },
        },
        { logger: createStderrLogger("info") },
      );
      try {
        await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir: flags.keyDir, checkpointEvery: flags.checkpointEvery })] });
      } catch (error) {
        await node.close();
        throw error;
      }
      process.stdout.write(`tether: audit ledger of network ${node.network} serving on ${node.url}\n`);
      const stop = async (signal: string) => {
        process.stdout.write(`tether: ${signal}: closing the ledger (final checkpoint)\n`);
        await node.close();
        process.exit(0);
      };
      process.once("SIGINT", () => void stop("SIGINT"));
      process.once("SIGTERM", () => void stop("SIGTERM"));
    });

  audit
    .command("checkpoint")
    .description("ask the ledger to close the current batch with a signed checkpoint now")
    .option("--nats <urls>", "comma-separated NATS server URLs", "nats://127.0.0.1:4222")
    .option("--network <name>", "network name", "default")
    .action(async (flags: { nats?: string; network: string }) => {
      const node = await Node.create({ network: flags.network, servers: parseServers(flags.nats) }, { logger: silentLogger });
      try {
        const r = (await node.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" })) as { checkpoint?: number | null };
        process.stdout.write(r.checkpoint === null || r.checkpoint === undefined ? "nothing to checkpoint\n" : `checkpoint at index ${r.checkpoint}\n`);
      } finally {
        await node.close();
      }
    });

  common(audit.command("verify").description("re-derive the hash chain and checkpoints; exit 1 at the first tampered record")).action((flags: LedgerFlags) =>
    withLedger(flags, async (records, resolveKey) => {
      const verdict = await verifyLedger(records, { resolveKey, network: flags.network });
      if (verdict.ok) {
        process.stdout.write(`ledger OK: ${verdict.records} records, ${verdict.checkpoints} signed checkpoints verified\n`);
        return;
      }
      const p = verdict.firstProblem;
      throw new TetherError(
        "ERR_AUDIT_TAMPERED",
        `ledger verification failed at position ${p?.position ?? "?"}${p?.index === undefined ? "" : ` (index ${p.index})`}: ${p?.problem ?? "unknown"}: ${p?.message ?? ""}`,
        { details: { position: p?.position, problem: p?.problem } },
      );
    }),
  );

  common(
    audit
      .command("query")
      .description("records of one workflow, agent, or since a time (JSON lines)")
      .option("--workflow <wid>", "ECT records of this workflow id")
      .option("--agent <id>", "ECT records issued by this agent, and events about it")
      .option("--since <time>", "ISO time or epoch ms"),
  ).action((flags: LedgerFlags & { workflow?: string; agent?: string; since?: string }) =>
    withLedger(flags, async (records) => {
      const since = flags.since === undefined ? undefined : /^\d+$/.test(flags.since) ? Number(flags.since) : Date.parse(flags.since);
      if (since !== undefined && Number.isNaN(since)) throw new TetherError("ERR_CONFIG_INVALID", `--since: cannot read ${JSON.stringify(flags.since)} as a time`);
      for (const r of records) {
        if (!isRecord(r)) continue;
        const body = (r["body"] ?? {}) as Record<string, unknown>;
        if (flags.workflow !== undefined && body["wid"] !== flags.workflow) continue;
        if (flags.agent !== undefined && !String(body["iss"] ?? "").endsWith(`/agent/${flags.agent}`) && body["subject"] !== flags.agent) continue;
        if (since !== undefined && Number(r["at"]) < since) continue;
        process.stdout.write(`${JSON.stringify(r)}\n`);
      }
    }),
  );

  common(
    audit.command("export").description("print every record, in chain order").option("--format <format>", "jsonl (RFC 8785 canonical JSON, one record per line)", "jsonl"),
  ).action((flags: LedgerFlags & { format: string }) => {
    if (flags.format !== "jsonl") throw new TetherError("ERR_CONFIG_INVALID", `--format: only jsonl is supported, got ${JSON.stringify(flags.format)}`);
    return withLedger(flags, async (records) => {
      for (const r of records) process.stdout.write(`${typeof r === "string" ? r : canonicalJson(r)}\n`);
    });
  });

  audit
    .command("stitch")
    .description("verify several networks' ledgers and merge one workflow's records in causal order (by jti/par)")
    .requiredOption("--workflow <wid>", "workflow id")
    .option("--ledger <network[@urls]>", "a network's live ledger (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--nats <urls>", "default NATS URLs for --ledger entries without @urls", "nats://127.0.0.1:4222")
    .action(async (flags: { workflow: string; ledger: string[]; nats?: string }) => {
      if (flags.ledger.length < 1) throw new TetherError("ERR_CONFIG_INVALID", "give at least one --ledger <network[@urls]>");
      const sources: { network: string; records: unknown[] }[] = [];
      const resolvers: KeyRegistry[] = [];
      const connections: NatsConnection[] = [];
      try {
        for (const spec of flags.ledger) {
          const [network = "", urls] = spec.split("@");
          const { connect } = await import("@nats-io/transport-node");
          const nc = await connect({ servers: parseServers(urls ?? flags.nats), maxReconnectAttempts: 0, timeout: 5_000 });
          connections.push(nc);
          resolvers.push(await KeyRegistry.open(nc, networkSubjects(network), { replicas: 1, clock: systemClock, logger: silentLogger }));
          sources.push({ network, records: await LedgerStream.readAll(nc, networkSubjects(network)) });
        }
        const resolveKey: ResolveCheckpointKey = async (kid) => {
          for (const r of resolvers) {
            const k = await r.resolve(kid);
            if (k !== undefined) return k;
          }
          return undefined;
        };
        const result = await stitchWorkflow(sources, flags.workflow, { resolveKey });
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } finally {
        for (const r of resolvers) r.close();
        for (const nc of connections) await nc.close();
      }
    });
};
