import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { createAuditLedgerDeps } from "../actors/index.ts";
import { appendRecord, canonicalJson } from "../protocols/index.ts";
import { NatsServer, Node, type LedgerReceipt } from "../runtime/index.ts";
import { CountingLogger } from "./counting-logger.ts";
import { LedgerTally, TalliedAuditLedger } from "./ect-actors.ts";
import { compared, progress, type ComparedMetric } from "./report.ts";
import { median, ownCpuUs, procCpuUs, within } from "./stats.ts";

export interface EctLedgerOptions {
  readonly rounds: number;
  /** Records appended per round and side. */
  readonly records: number;
  /** Appends in flight: both sides send this many, then wait for all of them (a window). */
  readonly window: number;
  /** The ledger signs a checkpoint every this many records (the ledger's default is 100). */
  readonly checkpointEvery: number | undefined;
  /** Temporary directory for the nodes' and the ledger's keys (removed by the caller). */
  readonly keyDir: string;
}

interface LedgerRun {
  readonly recordsPerSecond: number;
  /** CPU of this process per record (appending node, ledger node and raw client all run in it). */
  readonly cpuPerRecord: number;
  readonly serverCpuPerRecord: number;
}

type Side = "tether" | "raw";

const NETWORK = "benchlg";
const RAW_STREAM = "BENCH_RAW_APPEND";
const RAW_SUBJECT = "bench.raw.append";
const RUN_LIMIT_MS = 300_000;
/** Event details of each appended record: a sequence number and some text (about 350 bytes per record in all). */
const NOTE = "ledger append benchmark: a security event of ordinary size, recorded in order".padEnd(96, ".");

const encoder = new TextEncoder();

/**
 * Part `ledger` of `bench ect`: records per second through the audit ledger actor (one node's
 * `assurance.ledger.append`, batched per tick into one ask to the ledger node, which chains, stores
 * and checkpoints them) against raw JetStream publishes of the same number of similarly sized JSON
 * records to a plain file stream on the same server, both `window` at a time. Interleaved rounds.
 */
export const runEctLedger = async (options: EctLedgerOptions): Promise<{ metrics: ComparedMetric[]; notes: string[] }> => {
  const server = await NatsServer.start({ name: "bench-ect-ledger" });
  const logger = new CountingLogger({ part: "ledger" });
  const nodes: Node[] = [];
  let nc: NatsConnection | undefined;
  try {
    const assurance = { profile: "regulated" as const, keyDir: options.keyDir };
    const node = async (nodeId: string): Promise<Node> => {
      const n = await Node.create({ servers: [server.url], nodeId, network: NETWORK, assurance }, { logger });
      nodes.push(n);
      return n;
    };
    const ledgerNode = await node("lg-ledger");
    const tally = new LedgerTally();
    await ledgerNode.spawn("audit", TalliedAuditLedger, {
      args: [
        await createAuditLedgerDeps(ledgerNode, { keyDir: options.keyDir, ...(options.checkpointEvery === undefined ? {} : { checkpointEvery: options.checkpointEvery }) }),
        tally,
      ],
    });
    const app = await node("lg-app");

    nc = await connect({ servers: [server.url], name: "bench-raw-js", noAsyncTraces: true });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: RAW_STREAM, subjects: [RAW_SUBJECT], storage: StorageType.File, num_replicas: 1 });
    const js = jetstream(nc);

    // the raw side publishes what a ledger record looks like, as plain JSON of the same size
    const template = appendRecord(undefined, { network: NETWORK, kind: "event", body: { event: "bench", details: { seq: 0, note: NOTE } }, at: Date.now() });
    const rawBytes = (i: number): Uint8Array =>
      encoder.encode(JSON.stringify({ ...template, index: i, at: Date.now(), body: { event: "bench", details: { seq: i, note: NOTE } } }));
    const recordBytes = encoder.encode(canonicalJson(template)).length;
    progress(`ect ledger: nats-server ${server.url} (pid ${server.pid}); ${options.records} records per round, ${options.window} in flight; a record is ~${recordBytes} bytes, a raw message ${rawBytes(0).length}`);

    let receipts = 0;
    let ledgerSeen = "";
    const tetherAppend = async (i: number): Promise<void> => {
      const receipt: LedgerReceipt = await app.assurance.ledger.append({ kind: "event", event: "bench", details: { seq: i, note: NOTE } });
      if (!Number.isSafeInteger(receipt.index) || receipt.hash.length !== 43) throw new Error(`ledger append ${i}: no valid receipt`);
      receipts++;
    };
    const rawAppend = async (i: number): Promise<void> => {
      await js.publish(RAW_SUBJECT, rawBytes(i));
    };
    const sides: Record<Side, (i: number) => Promise<void>> = { tether: tetherAppend, raw: rawAppend };
    const run = (side: Side, n: number) => windowed(sides[side], n, options.window, server.pid, `${side} ledger appends`);

    for (const side of ["raw", "tether"] as const) await run(side, Math.min(options.records, 2_000));
    progress("ect ledger: warm-up done");

    const runs: Record<Side, LedgerRun[]> = { tether: [], raw: [] };
    for (let round = 1; round <= options.rounds; round++) {
      const order: Side[] = round % 2 === 1 ? ["raw", "tether"] : ["tether", "raw"];
      for (const side of order) {
        const before = receipts;
        tally.reset();
        const r = await run(side, options.records);
        if (side === "tether" && receipts - before !== options.records) throw new Error(`ledger: ${receipts - before} receipts for ${options.records} appends`);
        runs[side].push(r);
        progress(`ect ledger: round ${round} ${side}: ${Math.round(r.recordsPerSecond)} records/s, cpu ${r.cpuPerRecord.toFixed(1)} µs/record, server ${r.serverCpuPerRecord.toFixed(1)} µs/record`);
        if (side === "tether") {
          ledgerSeen = tally.summary();
          progress(`ect ledger: round ${round} tether ledger: ${ledgerSeen}`);
        }
      }
    }
    const ledgerInfo = await jsm.streams.info(ledgerNode.subjects.auditStream());
    const rawInfo = await jsm.streams.info(RAW_STREAM);
    const notes = [
      "ledger: the appending node, the ledger node and the raw client run in this process; the raw connection sets noAsyncTraces (the fastest js.publish)",
      `ledger, last tether round: ${ledgerSeen}`,
      `ledger stream holds ${ledgerInfo.state.messages} messages (one sealed batch of records and checkpoints per append ask, warm-up included), the raw stream ${rawInfo.state.messages}; ${options.rounds * options.records} measured appends per side`,
    ];
    const logged = logger.summary();
    if (logged.length > 0) notes.push(`ledger node log records (warn/error): ${logged.join("; ")}`);
    const m = (side: Side, pick: (r: LedgerRun) => number) => median(runs[side].map(pick));
    const both = (metric: string, unit: string, pick: (r: LedgerRun) => number, target?: Parameters<typeof compared>[5]) =>
      compared("ect", metric, unit, m("tether", pick), m("raw", pick), target);
    return {
      metrics: [
        both("ledger_append_rate", "records/s", (r) => r.recordsPerSecond, { op: ">=", value: 0.7 }),
        both("ledger_cpu_per_record", "µs/record", (r) => r.cpuPerRecord),
        both("ledger_server_cpu_per_record", "µs/record", (r) => r.serverCpuPerRecord),
      ],
      notes,
    };
  } finally {
    for (const n of [...nodes].reverse()) await n.close().catch((error: unknown) => progress(`ect ledger: closing ${n.id} failed: ${String(error)}`));
    await nc?.drain().catch(() => nc?.close());
    await server.stop();
  }
};

/** `n` appends, `window` at a time: send a window, wait for every acknowledgement, repeat. */
const windowed = async (append: (i: number) => Promise<void>, n: number, window: number, serverPid: number, what: string): Promise<LedgerRun> => {
  const server0 = procCpuUs(serverPid) ?? Number.NaN;
  const cpu0 = ownCpuUs();
  const t0 = performance.now();
  const all = async () => {
    for (let i = 0; i < n; i += window) {
      const batch: Promise<void>[] = [];
      for (let j = i; j < Math.min(n, i + window); j++) batch.push(append(j));
      await Promise.all(batch);
    }
  };
  await within(all(), RUN_LIMIT_MS, what);
  const elapsed = performance.now() - t0;
  const cpu1 = ownCpuUs();
  const server1 = procCpuUs(serverPid) ?? Number.NaN;
  return { recordsPerSecond: n / (elapsed / 1000), cpuPerRecord: (cpu1 - cpu0) / n, serverCpuPerRecord: (server1 - server0) / n };
};
