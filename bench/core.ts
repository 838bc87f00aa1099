import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pack } from "msgpackr";
import { NatsServer, Node, createStderrLogger, credentialsAuthenticator, type ActorRef } from "../runtime/index.ts";
import { startAccountsBenchServer } from "./accounts-server.ts";
import type { Echo, Ping, Sink } from "./bench-actors.ts";
import { BenchAddresses, ChildPeer, awaitReceiverDone, type ChildConfig } from "./child-control.ts";
import { RawRequester } from "./raw-requester.ts";
import { compared, progress, type ComparedMetric } from "./report.ts";
import { closedLoop, pacedSends } from "./load-loops.ts";
import { median, ownCpuUs, procCpuUs, wallNowMs, yieldToLoop } from "./stats.ts";

export interface CoreOptions {
  readonly rounds: number;
  /** Tells per round and side. */
  readonly messages: number;
  /** Asks per round, side and concurrency level. */
  readonly requests: number;
  /** Payload bytes inside each message. */
  readonly payloadBytes: number;
  /** Mailbox bound of the Tether actors in the children (undefined: the node default). */
  readonly mailboxCapacity: number | undefined;
  /** When set, each child writes V8 CPU profiles (one per thread) into `<dir>/<child name>/` (`--cpu-prof`). */
  readonly cpuProfileDir: string | undefined;
  /** Run on a server whose network is a NATS account: Tether sides hold node credentials, raw sides the operator's. */
  readonly accounts?: boolean;
}

type Side = "raw" | "tether";

interface TellResult {
  readonly throughput: number;
  readonly senderCpu: number;
  readonly receiverCpu: number;
  readonly serverCpu: number;
  /** Tells reported refused during the run (a run with refusals stalls; this says why). */
  readonly undeliverable: number;
}

interface AskResult {
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
  readonly callerCpu: number;
  readonly responderCpu: number;
  readonly serverCpu: number;
}

/** What one side (raw NATS or Tether) does in the parent process. */
interface SideDriver {
  readonly side: Side;
  readonly receiver: ChildPeer;
  readonly responder: ChildPeer;
  /** One one-way message; false when the sender should wait for `ready` (Tether's flow control). */
  tell(seq: number): unknown;
  /** Resolves when a flow-controlled sender may go on (raw: never waits). */
  ready(): Promise<void>;
  /** Called after the last tell (raw flushes its connection). */
  finishTells(): Promise<void>;
  /** One request; resolves with the reply. */
  ask(seq: number): Promise<unknown>;
  /** Messages reported undeliverable since the last call (Tether node events). */
  takeUndeliverable(): number;
}

const NETWORK = "bench";
const ROUND_LIMIT_MS = 180_000;
const CONCURRENCY = [1, 32] as const;

/**
 * Suite `core`: tell throughput and ask latency/throughput, Tether against the fastest raw NATS
 * pattern, each across two OS processes on one local nats-server, interleaved round by round.
 */
export const runCore = async (options: CoreOptions): Promise<ComparedMetric[]> => {
  const accounts = options.accounts === true ? await startAccountsBenchServer(NETWORK, "bench-core-accounts") : undefined;
  const server = accounts?.server ?? (await NatsServer.start({ name: "bench-core" }));
  const credsFor = (mode: Side): string | undefined => (accounts === undefined ? undefined : mode === "raw" ? accounts.operatorCredentials : accounts.nodeCredentials);
  progress(`core: nats-server ${server.url} (pid ${server.pid})${accounts === undefined ? "" : ", networks as accounts"}; ${options.rounds} rounds, ${options.messages} tells, ${options.requests} asks, ${options.payloadBytes}-byte payload`);
  const peers: ChildPeer[] = [];
  let nc: NatsConnection | undefined;
  let node: Node | undefined;
  try {
    const childConfig = (mode: Side): ChildConfig => ({
      server: server.url,
      mode,
      network: NETWORK,
      ...(credsFor(mode) === undefined ? {} : { credentials: credsFor(mode) }),
      ...(options.mailboxCapacity === undefined ? {} : { mailboxCapacity: options.mailboxCapacity }),
    });
    const nodeArgs = (name: string) =>
      options.cpuProfileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${join(options.cpuProfileDir, name)}`];
    // 90 s: four children compile and start at once, slow on a loaded 2-core machine
    const child = (name: string, script: string, mode: Side) => ChildPeer.start(name, script, childConfig(mode), nodeArgs(name), 90_000);
    const starts = await Promise.allSettled([
      child("raw-receiver", "./child-receiver.ts", "raw"),
      child("tether-receiver", "./child-receiver.ts", "tether"),
      child("raw-responder", "./child-responder.ts", "raw"),
      child("tether-responder", "./child-responder.ts", "tether"),
    ]);
    for (const s of starts) if (s.status === "fulfilled") peers.push(s.value);
    const failed = starts.find((s) => s.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    const [rawReceiver, tetherReceiver, rawResponder, tetherResponder] = peers as [ChildPeer, ChildPeer, ChildPeer, ChildPeer];

    const rawCreds = credsFor("raw");
    const nodeCreds = credsFor("tether");
    nc = await connect({ servers: [server.url], name: "bench-raw-sender", ...(rawCreds === undefined ? {} : { authenticator: credentialsAuthenticator(rawCreds) }) });
    node = await Node.create({ nodeId: "bench-parent", network: NETWORK, servers: [server.url], ...(nodeCreds === undefined ? {} : { credentials: nodeCreds }) }, { logger: createStderrLogger("warn", { role: "parent" }) });

    const payload = new Uint8Array(randomBytes(options.payloadBytes));
    const ping = (seq: number): Ping => ({ type: "ping", seq, payload });
    const rawNc = nc;
    const requester = new RawRequester(rawNc);
    const raw: SideDriver = {
      side: "raw",
      receiver: rawReceiver,
      responder: rawResponder,
      tell: (seq) => rawNc.publish(BenchAddresses.rawTell, pack(ping(seq))),
      ready: () => Promise.resolve(),
      finishTells: () => rawNc.flush(),
      ask: (seq) => requester.request(BenchAddresses.rawEcho, pack(ping(seq))),
      takeUndeliverable: () => 0,
    };
    let undeliverable = 0;
    node.onEvent((event) => {
      if (event.type === "undeliverable") undeliverable++;
    });
    const sink: ActorRef<Ping, void> = node.ref<typeof Sink>(BenchAddresses.sinkActor);
    const echo: ActorRef<Ping, number> = node.ref<typeof Echo>(BenchAddresses.echoActor);
    const tether: SideDriver = {
      side: "tether",
      receiver: tetherReceiver,
      responder: tetherResponder,
      tell: (seq) => sink.tell(ping(seq)),
      ready: () => sink.ready(),
      finishTells: () => Promise.resolve(), // the node has no flush; nats.js writes its buffer on the next microtask
      ask: (seq) => echo.ask(ping(seq)),
      takeUndeliverable: () => {
        const n = undeliverable;
        undeliverable = 0;
        return n;
      },
    };

    // warm-up (JIT, connection buffers), not measured
    for (const d of [raw, tether]) {
      await tellRun(d, Math.min(20_000, options.messages), server.pid, "paced");
      for (const c of CONCURRENCY) await askRun(d, Math.min(c === 1 ? 2_000 : 5_000, options.requests), c, server.pid);
    }
    progress("core: warm-up done");

    await tellRun(tether, Math.min(20_000, options.messages), server.pid, "flow");
    const tells: Record<Side, TellResult[]> = { raw: [], tether: [] };
    const flowTells: TellResult[] = [];
    const asks: Record<Side, Record<number, AskResult[]>> = { raw: { 1: [], 32: [] }, tether: { 1: [], 32: [] } };
    for (let round = 1; round <= options.rounds; round++) {
      // alternate which side goes first, so slow drift of the machine does not favour one side
      const order = round % 2 === 1 ? [raw, tether] : [tether, raw];
      for (const d of order) {
        const r = await tellRun(d, options.messages, server.pid, "paced");
        tells[d.side].push(r);
        progress(`core: round ${round} tell ${d.side}: ${Math.round(r.throughput)} msgs/s, cpu ${(r.senderCpu + r.receiverCpu).toFixed(2)} µs/msg`);
      }
      const f = await tellRun(tether, options.messages, server.pid, "flow");
      flowTells.push(f);
      progress(`core: round ${round} tell tether, flow-controlled: ${Math.round(f.throughput)} msgs/s, cpu ${(f.senderCpu + f.receiverCpu).toFixed(2)} µs/msg, ${d2(f.undeliverable)} undeliverable`);
      for (const c of CONCURRENCY) {
        for (const d of order) {
          const r = await askRun(d, options.requests, c, server.pid);
          asks[d.side][c]?.push(r);
          progress(`core: round ${round} ask x${c} ${d.side}: ${Math.round(r.throughput)} req/s, p50 ${r.p50} µs, p99 ${r.p99} µs, caller cpu ${r.callerCpu.toFixed(2)} µs/req`);
        }
      }
    }
    requester.close();
    return coreMetrics(tells, flowTells, asks);
  } finally {
    await Promise.allSettled(peers.map((p) => p.stop()));
    await node?.close().catch((error: unknown) => progress(`core: closing the parent node failed: ${String(error)}`));
    await nc?.drain().catch(() => nc?.close());
    await (accounts?.stop() ?? server.stop());
  }
};

/**
 * Flow-controlled sends: wait for `ready()` whenever `tell` says so, and otherwise yield every 1,000
 * like `pacedSends`, so the only difference from the paced run is respecting the signal.
 */
const flowSends = async (n: number, d: SideDriver): Promise<void> => {
  for (let i = 0; i < n; i++) {
    if (d.tell(i) === false) await d.ready();
    else if ((i + 1) % 1000 === 0) await yieldToLoop();
  }
};

const d2 = (n: number): string => String(Math.round(n));

/**
 * Tell throughput: N messages from this process to the receiver child; time from first send to its
 * last receive. `paced` ignores flow control; `flow` awaits `ready()` when told to.
 */
const tellRun = async (d: SideDriver, n: number, serverPid: number, mode: "paced" | "flow"): Promise<TellResult> => {
  await d.receiver.call({ type: "arm", n }, "armed");
  d.takeUndeliverable();
  const server0 = procCpuUs(serverPid) ?? Number.NaN;
  const cpu0 = ownCpuUs();
  const t0 = wallNowMs();
  if (mode === "flow") await flowSends(n, d);
  else await pacedSends(n, (seq) => d.tell(seq));
  await d.finishTells();
  const done = await awaitReceiverDone(
    d.receiver,
    ROUND_LIMIT_MS,
    (count) => `${d.side} tell: the receiver stalled at ${count}/${n} messages; ${d.takeUndeliverable()} reported undeliverable to the sender`,
  );
  const cpu1 = ownCpuUs();
  const server1 = procCpuUs(serverPid) ?? Number.NaN;
  return {
    throughput: n / ((done.lastAt - t0) / 1000),
    senderCpu: (cpu1 - cpu0) / n,
    receiverCpu: done.cpuUs / n,
    serverCpu: (server1 - server0) / n,
    undeliverable: d.takeUndeliverable(),
  };
};

/** Closed-loop asks: `concurrency` callers, each sending its next request when the previous reply arrives. */
const askRun = async (d: SideDriver, requests: number, concurrency: number, serverPid: number): Promise<AskResult> => {
  await d.responder.call({ type: "cpu-start" }, "cpu-started");
  const server0 = procCpuUs(serverPid) ?? Number.NaN;
  const cpu0 = ownCpuUs();
  const { elapsedMs, histogram } = await closedLoop(requests, concurrency, (seq) => d.ask(seq), `${d.side} asks`, ROUND_LIMIT_MS);
  const cpu1 = ownCpuUs();
  const server1 = procCpuUs(serverPid) ?? Number.NaN;
  const responder = await d.responder.call({ type: "cpu-read" }, "cpu");
  return {
    throughput: requests / (elapsedMs / 1000),
    p50: histogram.getValueAtPercentile(50),
    p99: histogram.getValueAtPercentile(99),
    callerCpu: (cpu1 - cpu0) / requests,
    responderCpu: responder.cpuUs / requests,
    serverCpu: (server1 - server0) / requests,
  };
};

const coreMetrics = (tells: Record<Side, TellResult[]>, flowTells: TellResult[], asks: Record<Side, Record<number, AskResult[]>>): ComparedMetric[] => {
  const m = <T>(results: T[], pick: (r: T) => number) => median(results.map(pick));
  const tell = (metric: string, unit: string, pick: (r: TellResult) => number, target?: Parameters<typeof compared>[5]) =>
    compared("core", metric, unit, m(tells.tether, pick), m(tells.raw, pick), target);
  const ask = (c: number, metric: string, unit: string, pick: (r: AskResult) => number, target?: Parameters<typeof compared>[5]) =>
    compared("core", `${metric}_${c}`, unit, m(asks.tether[c] ?? [], pick), m(asks.raw[c] ?? [], pick), target);
  return [
    tell("tell_throughput", "msgs/s", (r) => r.throughput, { op: ">=", value: 0.8 }),
    // flow-controlled tell (awaits ref.ready() when tell returns false) against the same raw runs
    compared("core", "tell_flow_throughput", "msgs/s", m(flowTells, (r) => r.throughput), m(tells.raw, (r) => r.throughput), { op: ">=", value: 0.7 }),
    compared("core", "tell_flow_cpu_per_msg", "µs/msg", m(flowTells, (r) => r.senderCpu + r.receiverCpu), m(tells.raw, (r) => r.senderCpu + r.receiverCpu)),
    tell("tell_cpu_per_msg", "µs/msg", (r) => r.senderCpu + r.receiverCpu),
    tell("tell_sender_cpu_per_msg", "µs/msg", (r) => r.senderCpu),
    tell("tell_receiver_cpu_per_msg", "µs/msg", (r) => r.receiverCpu),
    tell("tell_server_cpu_per_msg", "µs/msg", (r) => r.serverCpu),
    ask(1, "ask_p50", "µs", (r) => r.p50, { op: "<=", value: 1.1 }),
    ask(1, "ask_p99", "µs", (r) => r.p99),
    ask(1, "ask_throughput", "req/s", (r) => r.throughput),
    ask(1, "ask_caller_cpu_per_req", "µs/req", (r) => r.callerCpu),
    ask(1, "ask_responder_cpu_per_req", "µs/req", (r) => r.responderCpu),
    ask(32, "ask_throughput", "req/s", (r) => r.throughput, { op: ">=", value: 0.9 }),
    ask(32, "ask_p50", "µs", (r) => r.p50),
    ask(32, "ask_p99", "µs", (r) => r.p99),
    ask(32, "ask_caller_cpu_per_req", "µs/req", (r) => r.callerCpu),
    ask(32, "ask_responder_cpu_per_req", "µs/req", (r) => r.responderCpu),
    ask(32, "ask_server_cpu_per_req", "µs/req", (r) => r.serverCpu),
  ];
};
