import { createReadStream, readFileSync, statSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import type { NatsConnection } from "@nats-io/transport-node";
import { AuditLedger, createAuditLedgerDeps } from "../actors/index.ts";
import { TetherError, canonicalJson, networkSubjects, recordSealValid, stitchWorkflow, verifyLedgerStream, type ResolveCheckpointKey } from "../protocols/index.ts";
import { KeyRegistry, LedgerStream, Node, type LedgerAnchor, createStderrLogger, silentLogger, systemClock } from "../runtime/index.ts";
import { openConnection, withConnection } from "./connection.ts";
import { loadJwks } from "./jwks.ts";
import { credentialsOf, natsOption } from "./nats-option.ts";
import { examples } from "./output.ts";
import { startProgress } from "./progress.ts";
import { parsePositiveInt, parseServers, serversOrEmbedded } from "./servers.ts";
import { nodeTls, type TlsFlags } from "./tls-options.ts";

interface LedgerFlags {
  nats: string;
  /** Absent with --file: the export names its network (its records do). */
  network?: string;
  file?: string;
  jwks?: string;
}

const common = (c: Command) =>
  c
    .addOption(natsOption())
    .option("--network <name>", "network name (default: \"default\"; with --file, the export's own)")
    .option("--file <path>", "read the ledger from a JSONL export instead of the live stream")
    .option("--jwks <file|url>", "JWKS holding the ledger's checkpoint key (default: the network's key registry); with --file, no NATS is needed");

/** The ledger's records as they are read, and how many there are when that is known up front. */
interface LedgerSource {
  readonly total?: number;
  readonly records: AsyncIterable<unknown>;
  /** Stream sequences of messages skipped as foreign (no valid ledger seal), filled while reading. */
  readonly foreign: { seq: number; why: string }[];
  /** The latest anchors in the network's anchor stream (live ledger only). */
  readonly anchors: LedgerAnchor[];
  /** Resolves keys of role `audit` only (record seals); with --jwks, the JWKS. */
  readonly sealKey: ResolveCheckpointKey;
}

/** A JSONL export, one record per line, read line by line. */
const readJsonl = (path: string): Omit<LedgerSource, "sealKey"> => {
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `--file: cannot read ${path}: ${(cause as { code?: string }).code === "ENOENT" ? "no such file" : String(cause)}`, { cause });
  }
  async function* records(): AsyncGenerator<unknown> {
    for await (const line of createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line.trim() === "") continue;
      try {
        yield JSON.parse(line) as unknown;
      } catch {
        yield line; // verification reports an unparseable record where it stands
      }
    }
  }
  return { records: records(), foreign: [], anchors: [] };
};

/**
 * Opens the ledger (the live stream, or `--file`) and a checkpoint-key resolver (`--jwks`, or the
 * network's key registry), and runs `fn` with them. Records are streamed, never all held at once.
 */
const withLedger = async <T>(flags: LedgerFlags, fn: (ledger: LedgerSource, resolveKey: ResolveCheckpointKey) => Promise<T>): Promise<T> => {
  const jwks = flags.jwks === undefined ? undefined : await loadJwks(flags.jwks);
  const fromJwks: ResolveCheckpointKey | undefined = jwks === undefined ? undefined : (kid) => jwks.resolve(kid);
  if (flags.file !== undefined && fromJwks !== undefined) return fn({ ...readJsonl(flags.file), sealKey: fromJwks }, fromJwks);
  const file = flags.file === undefined ? undefined : readJsonl(flags.file);
  return withConnection(flags, async (nc) => {
    const subjects = networkSubjects(flags.network ?? "default");
    await using keys = await KeyRegistry.open(nc, subjects, { replicas: 1, clock: systemClock, logger: silentLogger });
    const resolveKey: ResolveCheckpointKey = fromJwks ?? ((kid) => keys.resolve(kid));
    // only records sealed by a key of role `audit` are the ledger's; anything else is foreign
    const auditKey: ResolveCheckpointKey = async (kid) => {
      const k = await keys.lookup(kid);
      return typeof k === "object" && k.role === "audit" ? resolveKey(kid) : undefined;
    };
    if (file !== undefined) return fn({ ...file, sealKey: fromJwks ?? auditKey }, resolveKey);
    const foreign: { seq: number; why: string }[] = [];
    // with --jwks, the JWKS is the ledger's key set (it need not be in this network's registry)
    const sealKey = fromJwks ?? auditKey;
    const read = await LedgerStream.read(nc, subjects, {
      authenticate: (seal, hash) => recordSealValid(seal, hash, sealKey),
      onForeign: (seq, why) => foreign.push({ seq, why }),
    });
    const anchors = [await LedgerStream.latestAnchor(nc, subjects, "checkpoint"), await LedgerStream.latestAnchor(nc, subjects, "head")].filter((a) => a !== undefined);
    return fn({ ...read, foreign, anchors, sealKey }, resolveKey);
  });
};

/** An anchor file written by `tether audit anchor --out`. */
const readAnchorFile = (path: string): LedgerAnchor => {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `--anchor: cannot read ${path} as JSON`, { cause });
  }
  if (!isRecord(value) || typeof value["signature"] !== "string" || typeof value["index"] !== "number" || typeof value["hash"] !== "string") throw new TetherError("ERR_CONFIG_INVALID", `--anchor: ${path} holds no anchor signature`);
  return value as unknown as LedgerAnchor;
};

const isRecord = (r: unknown): r is Record<string, unknown> => typeof r === "object" && r !== null;

/** `tether audit …`: host, verify, query, export and stitch the tamper-evident ledger. */
export const registerAuditCommand = (program: Command): void => {
  const audit = examples(program.command("audit").description("the tamper-evident audit ledger"), "tether audit verify");

  examples(audit.command("serve"), "tether audit serve --key-dir /var/lib/tether/keys --checkpoint-every 500")
    .description("run a node hosting the network's audit ledger actor (independent of the workflow agents)")
    .addOption(natsOption())
    .option("--embedded", "start an embedded nats-server on a free loopback port instead of connecting to --nats (development)")
    .option("--network <name>", "network name", "default")
    .option("--replicas <n>", "JetStream replicas", parsePositiveInt("--replicas"))
    .option("--key-dir <dir>", "directory of the ledger's private key", ".tether/keys")
    .option("--checkpoint-every <n>", "records per signed checkpoint", parsePositiveInt("--checkpoint-every"), 100)
    .action(async (flags: TlsFlags & { nats: string; creds?: string; embedded?: boolean; network: string; replicas?: number; keyDir: string; checkpointEvery: number }, command: Command) => {
      const node = await Node.create(
        {
          network: flags.network,
          ...credentialsOf(flags),
          servers: serversOrEmbedded(flags, command.getOptionValueSource("nats")),
          ...nodeTls(flags),
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

  examples(audit.command("checkpoint"), "tether audit checkpoint --network default")
    .description("ask the ledger to close the current batch with a signed checkpoint now")
    .addOption(natsOption())
    .option("--network <name>", "network name", "default")
    .action(async (flags: TlsFlags & { nats: string; creds?: string; network: string }) => {
      const node = await Node.create({ network: flags.network, servers: parseServers(flags.nats), ...credentialsOf(flags), ...nodeTls(flags) }, { logger: silentLogger });
      try {
        const r = (await node.ref<typeof AuditLedger>("audit").ask({ type: "tether.audit.v1.checkpoint" })) as { checkpoint?: number | null };
        process.stdout.write(r.checkpoint === null || r.checkpoint === undefined ? "nothing to checkpoint\n" : `checkpoint at index ${r.checkpoint}\n`);
      } finally {
        await node.close();
      }
    });

  common(
    examples(
      audit.command("verify").description("re-derive the hash chain and checkpoints, streaming the ledger; exit 1 at the first tampered record"),
      "tether audit verify --network default",
      "tether audit export > ledger.jsonl && tether keys jwks > jwks.json && tether audit verify --file ledger.jsonl --jwks jwks.json",
    ),
  )
    .option("--progress", "show progress on stderr (default: when stderr is a terminal)")
    .option("--no-progress", "never show progress")
    .option("--anchor <file>", "an anchor written by `tether audit anchor --out` (checked besides the network's anchor stream)")
    .action((flags: LedgerFlags & { progress?: boolean; anchor?: string }) =>
      withLedger(flags, async (ledger, resolveKey) => {
        const all = [...ledger.anchors, ...(flags.anchor === undefined ? [] : [readAnchorFile(flags.anchor)])];
        // checkpoint anchors are checked by the verifier; head anchors (a record's seal) here
        const anchors = all.filter((a) => a.kind !== "head").map((a) => a.signature);
        const heads: LedgerAnchor[] = [];
        for (const a of all.filter((x) => x.kind === "head")) {
          if (!(await recordSealValid(a.signature, a.hash, ledger.sealKey))) {
            throw new TetherError("ERR_AUDIT_TAMPERED", `ledger verification failed: a head anchor (index ${a.index}) is not sealed by the ledger key`);
          }
          heads.push(a);
        }
        const seen = new Map<number, string | undefined>(heads.map((h) => [h.index, undefined]));
        async function* watched(): AsyncGenerator<unknown> {
          for await (const r of ledger.records) {
            if (isRecord(r) && typeof r["index"] === "number" && seen.has(r["index"])) seen.set(r["index"], String(r["hash"]));
            yield r;
          }
        }
        const progress = startProgress(process.stderr, flags.progress, { label: "verifying", unit: "records", ...(ledger.total === undefined ? {} : { total: ledger.total }) });
        let count = 0;
        const verdict = await verifyLedgerStream(watched(), {
          resolveKey,
          ...(flags.network === undefined ? {} : { network: flags.network }),
          anchors,
          onRecord: (n) => {
            count = n;
            progress.update(n);
          },
        });
        progress.done(count);
        const foreignNote =
          ledger.foreign.length === 0
            ? ""
            : `; ${ledger.foreign.length} foreign record(s) skipped (not written by the ledger, not part of it) at stream sequence ${ledger.foreign.slice(0, 10).map((f) => f.seq).join(", ")}${ledger.foreign.length > 10 ? ", …" : ""}`;
        const anchorNote = all.length === 0 ? ", no anchor to check against" : `, ${all.length} anchor(s) checked`;
        for (const h of heads) {
          const found = seen.get(h.index);
          if (found === undefined) {
            throw new TetherError(
              "ERR_AUDIT_TAMPERED",
              `ledger verification failed: the ledger is shorter than its last anchor: the anchor holds record ${h.index}, the ledger has ${verdict.records} record(s) (truncated${verdict.records === 0 ? ", or the whole stream deleted" : ""})${foreignNote}`,
              { details: { problem: "deleted", anchorIndex: h.index } },
            );
          }
          if (found !== h.hash) {
            throw new TetherError("ERR_AUDIT_TAMPERED", `ledger verification failed: the ledger diverges from its last anchor at index ${h.index} (rewritten)${foreignNote}`, {
              details: { problem: "modified", anchorIndex: h.index },
            });
          }
        }
        if (verdict.ok) {
          process.stdout.write(`ledger OK: ${verdict.records} records, ${verdict.checkpoints} signed checkpoints verified${anchorNote}${foreignNote}\n`);
          return;
        }
        const p = verdict.firstProblem;
        if (p?.anchor !== undefined && p.problem === "deleted") {
          throw new TetherError(
            "ERR_AUDIT_TAMPERED",
            `ledger verification failed: the ledger is shorter than its last anchor (truncated${verdict.records === 0 ? ", or the whole stream deleted" : ""}): ${p.message}${foreignNote}`,
            { details: { position: p.position, problem: p.problem, anchor: p.anchor } },
          );
        }
        throw new TetherError(
          "ERR_AUDIT_TAMPERED",
          `ledger verification failed at position ${p?.position ?? "?"}${p?.index === undefined ? "" : ` (index ${p.index})`}: ${p?.problem ?? "unknown"}${p?.anchor === undefined ? "" : " (against the anchor)"}: ${p?.message ?? ""}${foreignNote}`,
          { details: { position: p?.position, problem: p?.problem } },
        );
      }),
    );

  examples(audit.command("anchor"), "tether audit anchor --network default --out anchor.json")
    .description("write the latest anchor (network, index, hash, signature: the last record's seal, or the last checkpoint) to a file kept outside the cluster")
    .addOption(natsOption())
    .option("--network <name>", "network name", "default")
    .requiredOption("--out <file>", "where to write the anchor (JSON)")
    .action((flags: { nats: string; network: string; out: string }) =>
      withConnection(flags, async (nc) => {
        const subjects = networkSubjects(flags.network);
        const anchor = (await LedgerStream.latestAnchor(nc, subjects, "head")) ?? (await LedgerStream.latestAnchor(nc, subjects, "checkpoint"));
        if (anchor === undefined) throw new TetherError("ERR_AUDIT_RECORD_INVALID", `network ${flags.network} has no anchor yet (no signed checkpoint)`);
        writeFileSync(flags.out, `${JSON.stringify(anchor, null, 2)}\n`, { mode: 0o644 });
        process.stdout.write(`anchor of network ${anchor.network} at index ${anchor.index} written to ${flags.out}\n`);
      }),
    );

  common(
    examples(audit.command("query"), "tether audit query --workflow 7d1c... | jq .body.exec_act", "tether audit query --agent planner --since 2025-01-01T00:00:00Z")
      .description("records of one workflow, agent, or since a time (JSON lines)")
      .option("--workflow <wid>", "ECT records of this workflow id")
      .option("--agent <id>", "ECT records issued by this agent, and events about it")
      .option("--since <time>", "ISO time or epoch ms"),
  ).action((flags: LedgerFlags & { workflow?: string; agent?: string; since?: string }) =>
    withLedger(flags, async ({ records }) => {
      const since = flags.since === undefined ? undefined : /^\d+$/.test(flags.since) ? Number(flags.since) : Date.parse(flags.since);
      if (since !== undefined && Number.isNaN(since)) throw new TetherError("ERR_CONFIG_INVALID", `--since: cannot read ${JSON.stringify(flags.since)} as a time`);
      for await (const r of records) {
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
    examples(audit.command("export").description("print every record, in chain order"), "tether audit export --network default > ledger.jsonl").option("--format <format>", "jsonl (RFC 8785 canonical JSON, one record per line)", "jsonl"),
  ).action((flags: LedgerFlags & { format: string }) => {
    if (flags.format !== "jsonl") throw new TetherError("ERR_CONFIG_INVALID", `--format: only jsonl is supported, got ${JSON.stringify(flags.format)}`);
    return withLedger(flags, async ({ records }) => {
      for await (const r of records) process.stdout.write(`${typeof r === "string" ? r : canonicalJson(r)}\n`);
    });
  });

  examples(audit.command("stitch"), "tether audit stitch --workflow 7d1c... --ledger alpha@nats://10.0.0.1:4222 --ledger beta@nats://10.0.1.1:4222")
    .description("verify several networks' ledgers and merge one workflow's records in causal order (by jti/par)")
    .requiredOption("--workflow <wid>", "workflow id")
    .option("--ledger <network[@urls]>", "a network's live ledger (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .addOption(natsOption("default NATS URLs for --ledger entries without @urls"))
    .action(async (flags: TlsFlags & { workflow: string; ledger: string[]; nats: string; creds?: string }) => {
      if (flags.ledger.length < 1) throw new TetherError("ERR_CONFIG_INVALID", "give at least one --ledger <network[@urls]>");
      const sources: { network: string; records: unknown[] }[] = [];
      const resolvers: KeyRegistry[] = [];
      const connections: NatsConnection[] = [];
      try {
        for (const spec of flags.ledger) {
          const [network = "", urls] = spec.split("@");
          const nc = await openConnection({ ...flags, nats: urls ?? flags.nats });
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
