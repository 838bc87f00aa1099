import { NatsServer, freeLoopbackPort } from "../runtime/index.ts";
import { ChildPeer, awaitReceiverDone } from "./child-control.ts";
import { comparedWith, progress, type ComparedMetric, type Target } from "./report.ts";
import { median, procCpuUs, procRssBytes } from "./stats.ts";

export interface PeersOptions {
  readonly rounds: number;
  /** Asks per round, system and concurrency level. */
  readonly requests: number;
  /** One-way messages (Tether tells, Moleculer events) per round and system. */
  readonly events: number;
  /** Payload bytes in each message (Moleculer carries them as base64 text: JSON has no bytes). */
  readonly payloadBytes: number;
}

export type PeerMetric = ComparedMetric<"moleculer">;

type System = "tether" | "moleculer";

/** One system's two child processes. */
interface Pair {
  readonly system: System;
  readonly caller: ChildPeer;
  readonly service: ChildPeer;
}

interface EventResult {
  readonly throughput: number;
  readonly callerCpu: number;
  readonly serviceCpu: number;
  readonly serverCpu: number;
  /** NATS messages the server received per event: below 1 means several events travelled in one message. */
  readonly natsMsgs: number;
}

interface AskResult {
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
  readonly callerCpu: number;
  readonly serviceCpu: number;
  readonly serverCpu: number;
  /** NATS messages the server received per ask (request + reply = 2 without batching). */
  readonly natsMsgs: number;
}

interface Results {
  readonly events: EventResult[];
  readonly asks: Record<number, AskResult[]>;
  /** Service RSS in bytes after each round. */
  readonly rss: number[];
}

const NETWORK = "bench";
const ROUND_LIMIT_MS = 180_000;
const CONCURRENCY = [1, 32] as const;
const SCRIPTS: Record<System, string> = { tether: "./peers-tether-child.ts", moleculer: "./peers-moleculer-child.ts" };

/** The server's counters, read from its monitoring endpoint (loopback only, like the client port). */
class ServerProbe {
  readonly #server: NatsServer;
  readonly #varz: string;

  constructor(server: NatsServer, monitorPort: number) {
    this.#server = server;
    this.#varz = `http://127.0.0.1:${monitorPort}/varz`;
  }

  async read(): Promise<{ cpuUs: number; inMsgs: number }> {
    const varz = (await (await fetch(this.#varz)).json()) as { in_msgs?: number };
    return { cpuUs: procCpuUs(this.#server.pid) ?? Number.NaN, inMsgs: varz.in_msgs ?? Number.NaN };
  }
}

/**
 * Suite `peers`: Tether against Moleculer 0.15 (JSON serializer) over one local nats-server. For each
 * system a caller child drives the load and a service child answers asks and counts one-way messages;
 * this process only starts them, reads the server's CPU and counters, and collects the figures.
 */
export const runPeers = async (options: PeersOptions): Promise<{ metrics: PeerMetric[]; notes: string[] }> => {
  const monitorPort = await freeLoopbackPort();
  const server = await NatsServer.start({ name: "bench-peers", args: ["-m", String(monitorPort)] });
  const probe = new ServerProbe(server, monitorPort);
  progress(`peers: nats-server ${server.url} (pid ${server.pid}); ${options.rounds} rounds, ${options.requests} asks, ${options.events} events, ${options.payloadBytes}-byte payload`);
  const children: ChildPeer[] = [];
  try {
    const start = async (system: System, role: "caller" | "service"): Promise<ChildPeer> => {
      const peer = await ChildPeer.start(`${system}-${role}`, SCRIPTS[system], {
        server: server.url,
        mode: system,
        network: NETWORK,
        role,
        payloadBytes: options.payloadBytes,
      });
      children.push(peer);
      return peer;
    };
    // services first: each caller waits until its service answers
    const [tetherService, moleculerService] = await Promise.all([start("tether", "service"), start("moleculer", "service")]);
    const [tetherCaller, moleculerCaller] = await Promise.all([start("tether", "caller"), start("moleculer", "caller")]);
    const pairs: Record<System, Pair> = {
      tether: { system: "tether", caller: tetherCaller, service: tetherService },
      moleculer: { system: "moleculer", caller: moleculerCaller, service: moleculerService },
    };

    // warm-up (JIT, connection buffers, Moleculer's discovery), not measured
    for (const p of Object.values(pairs)) {
      await eventRun(p, Math.min(20_000, options.events), probe);
      for (const c of CONCURRENCY) await askRun(p, Math.min(c === 1 ? 2_000 : 5_000, options.requests), c, probe);
    }
    progress("peers: warm-up done");

    const results: Record<System, Results> = {
      tether: { events: [], asks: { 1: [], 32: [] }, rss: [] },
      moleculer: { events: [], asks: { 1: [], 32: [] }, rss: [] },
    };
    for (let round = 1; round <= options.rounds; round++) {
      // alternate which system goes first, so slow drift of the machine does not favour one
      const order = round % 2 === 1 ? [pairs.tether, pairs.moleculer] : [pairs.moleculer, pairs.tether];
      for (const p of order) {
        const r = await eventRun(p, options.events, probe);
        results[p.system].events.push(r);
        progress(`peers: round ${round} events ${p.system}: ${Math.round(r.throughput)} msgs/s, cpu ${(r.callerCpu + r.serviceCpu + r.serverCpu).toFixed(2)} µs/msg`);
      }
      for (const c of CONCURRENCY) {
        for (const p of order) {
          const r = await askRun(p, options.requests, c, probe);
          results[p.system].asks[c]?.push(r);
          progress(`peers: round ${round} ask x${c} ${p.system}: ${Math.round(r.throughput)} req/s, p50 ${r.p50} µs, cpu ${(r.callerCpu + r.serviceCpu + r.serverCpu).toFixed(2)} µs/req`);
        }
      }
      for (const p of order) results[p.system].rss.push(procRssBytes(p.service.pid) ?? Number.NaN);
    }
    const metrics = peerMetrics(results);
    return { metrics, notes: batchingNotes(metrics) };
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await server.stop();
  }
};

/** One-way throughput: N messages from the caller child to the service child; first send to last receive. */
const eventRun = async (p: Pair, n: number, probe: ServerProbe): Promise<EventResult> => {
  await p.service.call({ type: "arm", n }, "armed");
  await p.caller.call({ type: "cpu-start" }, "cpu-started");
  const s0 = await probe.read();
  p.caller.send({ type: "tell-run", n });
  const sent = await p.caller.next("tell-sent", ROUND_LIMIT_MS);
  const done = await awaitReceiverDone(p.service, ROUND_LIMIT_MS, (count) => `${p.system} events: the service stalled at ${count}/${n} messages`);
  const caller = await p.caller.call({ type: "cpu-read" }, "cpu");
  const s1 = await probe.read();
  return {
    throughput: n / ((done.lastAt - sent.startedAt) / 1000),
    callerCpu: caller.cpuUs / n,
    serviceCpu: done.cpuUs / n,
    serverCpu: (s1.cpuUs - s0.cpuUs) / n,
    natsMsgs: (s1.inMsgs - s0.inMsgs) / n,
  };
};

/** Closed-loop asks run by the caller child; CPU of both children and of the server over the run. */
const askRun = async (p: Pair, requests: number, concurrency: number, probe: ServerProbe): Promise<AskResult> => {
  await p.service.call({ type: "cpu-start" }, "cpu-started");
  await p.caller.call({ type: "cpu-start" }, "cpu-started");
  const s0 = await probe.read();
  const done = await p.caller.call({ type: "ask-run", requests, concurrency }, "ask-done", ROUND_LIMIT_MS);
  const s1 = await probe.read();
  const caller = await p.caller.call({ type: "cpu-read" }, "cpu");
  const service = await p.service.call({ type: "cpu-read" }, "cpu");
  return {
    throughput: requests / (done.elapsedMs / 1000),
    p50: done.p50,
    p99: done.p99,
    callerCpu: caller.cpuUs / requests,
    serviceCpu: service.cpuUs / requests,
    serverCpu: (s1.cpuUs - s0.cpuUs) / requests,
    natsMsgs: (s1.inMsgs - s0.inMsgs) / requests,
  };
};

const versusMoleculer = comparedWith("moleculer");
const LESS: Target = { op: "<=", value: 1 };

const peerMetrics = (results: Record<System, Results>): PeerMetric[] => {
  const m = <T>(pick: (r: Results) => T[], value: (r: T) => number) => (system: System) => median(pick(results[system]).map(value));
  const metric = (name: string, unit: string, figure: (system: System) => number, target?: Target) =>
    versusMoleculer("peers", name, unit, figure("tether"), figure("moleculer"), target);
  const event = (name: string, unit: string, value: (r: EventResult) => number, target?: Target) =>
    metric(name, unit, m((r) => r.events, value), target);
  const ask = (c: number, name: string, unit: string, value: (r: AskResult) => number, target?: Target) =>
    metric(`${name}_${c}`, unit, m((r) => r.asks[c] ?? [], value), target);
  const total = (r: EventResult | AskResult) => r.callerCpu + r.serviceCpu + r.serverCpu;
  return [
    ask(1, "ask_throughput", "req/s", (r) => r.throughput),
    ask(1, "ask_p50", "µs", (r) => r.p50),
    ask(1, "ask_cpu_per_msg", "µs/req", total),
    ask(32, "ask_throughput", "req/s", (r) => r.throughput, { op: ">=", value: 1.3 }),
    ask(32, "ask_p50", "µs", (r) => r.p50),
    ask(32, "ask_p99", "µs", (r) => r.p99),
    ask(32, "ask_cpu_per_msg", "µs/req", total, LESS),
    ask(32, "ask_caller_cpu_per_msg", "µs/req", (r) => r.callerCpu),
    ask(32, "ask_service_cpu_per_msg", "µs/req", (r) => r.serviceCpu),
    ask(32, "ask_server_cpu_per_msg", "µs/req", (r) => r.serverCpu),
    ask(32, "ask_nats_msgs_per_msg", "msgs/req", (r) => r.natsMsgs),
    event("event_throughput", "msgs/s", (r) => r.throughput, { op: ">=", value: 2 }),
    event("event_cpu_per_msg", "µs/msg", total, LESS),
    event("event_caller_cpu_per_msg", "µs/msg", (r) => r.callerCpu),
    event("event_service_cpu_per_msg", "µs/msg", (r) => r.serviceCpu),
    event("event_server_cpu_per_msg", "µs/msg", (r) => r.serverCpu),
    event("event_nats_msgs_per_msg", "msgs/msg", (r) => r.natsMsgs),
    metric("service_rss", "MB", m((r) => r.rss, (bytes) => bytes / 1_048_576)),
  ];
};

/**
 * Whether batching is in play, from the server's own message counter: an ask without batching is two
 * NATS messages (request and reply) and a one-way message is one. Fewer means several application
 * messages travelled in one NATS message (a few more are background traffic: heartbeats, leases).
 */
const batchingNotes = (metrics: readonly PeerMetric[]): string[] => {
  const expected: Record<string, number> = { event_nats_msgs_per_msg: 1, ask_nats_msgs_per_msg_32: 2 };
  return metrics.flatMap((metric) => {
    const perMessage = expected[metric.metric];
    if (perMessage === undefined) return [];
    const what = metric.metric.startsWith("event") ? "one-way messages" : "asks at 32 in flight";
    const side = (name: string, msgs: number) =>
      msgs < perMessage * 0.95
        ? `${name} batches (${(perMessage / msgs).toFixed(1)} messages per NATS message)`
        : `${name} does not batch (${msgs.toFixed(2)} NATS messages each)`;
    return [`batching, ${what}: ${side("tether", metric.tether)}; ${side("moleculer", metric.moleculer)}`];
  });
};
