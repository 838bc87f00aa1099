import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServer, Node, createDevCertificates, createStderrLogger, type ActorRef } from "../runtime/index.ts";
import type { Ping, Sink } from "./bench-actors.ts";
import { BenchAddresses, ChildPeer, awaitReceiverDone } from "./child-control.ts";
import { comparedWith, progress, type ComparedMetric } from "./report.ts";
import { median, ownCpuUs, wallNowMs, yieldToLoop } from "./stats.ts";

export interface CoreTlsOptions {
  readonly rounds: number;
  readonly messages: number;
  readonly payloadBytes: number;
  readonly mailboxCapacity: number | undefined;
}

type Transport = "plain" | "tls";

interface Lane {
  readonly transport: Transport;
  readonly server: NatsServer;
  readonly receiver: ChildPeer;
  readonly node: Node;
  readonly sink: ActorRef<Ping, void>;
}

const NETWORK = "bench";
const ROUND_LIMIT_MS = 180_000;

/** The ratio `tls / plain`, with TLS in the `tether` column and plaintext as the baseline. */
export const comparedWithPlain = comparedWith("plain");

/**
 * `core --tls`: the core suite's Tether tell (flow-controlled, parent node → Sink actor in a child process),
 * once over a plaintext nats-server and once over a TLS one (the development CA of `cluster up
 * --tls`, EC P-256, the client verifying the server), interleaved round by round.
 */
export const runCoreTls = async (options: CoreTlsOptions): Promise<ComparedMetric<"plain">[]> => {
  const dir = mkdtempSync(join(tmpdir(), "tether-bench-tls-"));
  const lanes: Lane[] = [];
  const servers: NatsServer[] = [];
  try {
    const certs = await createDevCertificates({ dir: join(dir, "tls") });
    const conf = join(dir, "tls.conf");
    writeFileSync(conf, `host: 127.0.0.1\nport: -1\njetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\ntls {\n  cert_file: ${JSON.stringify(certs.server.certFile)}\n  key_file: ${JSON.stringify(certs.server.keyFile)}\n}\n`);
    const plainServer = await NatsServer.start({ name: "bench-core-plain" });
    servers.push(plainServer);
    const tlsServer = await NatsServer.start({ name: "bench-core-tls", configFile: conf, tls: true });
    servers.push(tlsServer);
    progress(`core --tls: plaintext ${plainServer.url}, TLS ${tlsServer.url} (CA ${certs.caFile}); ${options.rounds} rounds, ${options.messages} tells`);
    for (const [transport, server] of [["plain", plainServer], ["tls", tlsServer]] as const) {
      const tlsCaFile = transport === "tls" ? certs.caFile : undefined;
      const receiver = await ChildPeer.start(`${transport}-receiver`, "./child-receiver.ts", {
        server: server.url.replace(/^tls:/, "nats:"),
        mode: "tether",
        network: NETWORK,
        ...(options.mailboxCapacity === undefined ? {} : { mailboxCapacity: options.mailboxCapacity }),
        ...(tlsCaFile === undefined ? {} : { tlsCaFile }),
      });
      const node = await Node.create(
        { nodeId: `bench-parent-${transport}`, network: NETWORK, servers: [server.url], ...(tlsCaFile === undefined ? {} : { tls: { caFile: tlsCaFile } }) },
        { logger: createStderrLogger("warn", { role: `parent-${transport}` }) },
      );
      lanes.push({ transport, server, receiver, node, sink: node.ref<typeof Sink>(BenchAddresses.sinkActor) });
    }
    const payload = new Uint8Array(randomBytes(options.payloadBytes));
    for (const lane of lanes) await tellRun(lane, Math.min(20_000, options.messages), payload); // warm-up
    const results: Record<Transport, { throughput: number; cpu: number }[]> = { plain: [], tls: [] };
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? lanes : [...lanes].reverse();
      for (const lane of order) {
        const r = await tellRun(lane, options.messages, payload);
        results[lane.transport].push(r);
        progress(`core --tls: round ${round} tell ${lane.transport}: ${Math.round(r.throughput)} msgs/s, cpu ${r.cpu.toFixed(2)} µs/msg`);
      }
    }
    const m = (t: Transport, pick: (r: { throughput: number; cpu: number }) => number) => median(results[t].map(pick));
    return [
      comparedWithPlain("core", "tell_throughput_tls", "msgs/s", m("tls", (r) => r.throughput), m("plain", (r) => r.throughput), { op: ">=", value: 0.8 }),
      comparedWithPlain("core", "tell_cpu_per_msg_tls", "µs/msg", m("tls", (r) => r.cpu), m("plain", (r) => r.cpu)),
    ];
  } finally {
    await Promise.allSettled(lanes.map((l) => l.receiver.stop()));
    await Promise.allSettled(lanes.map((l) => l.node.close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
};

/** Flow-controlled tells from this process to the lane's receiver child; time from the first send to its last receive. */
const tellRun = async (lane: Lane, n: number, payload: Ping["payload"]): Promise<{ throughput: number; cpu: number }> => {
  await lane.receiver.call({ type: "arm", n }, "armed");
  const cpu0 = ownCpuUs();
  const t0 = wallNowMs();
  // flow-controlled (awaits ready() when tell says so), like the core suite's tell_flow run: a paced run
  // overflows the receiver's mailbox when the machine is loaded (seen at load average 25 on 2 cores)
  for (let seq = 0; seq < n; seq++) {
    if (lane.sink.tell({ type: "ping", seq, payload }) === false) await lane.sink.ready();
    else if ((seq + 1) % 1000 === 0) await yieldToLoop();
  }
  const done = await awaitReceiverDone(lane.receiver, ROUND_LIMIT_MS, (count) => `${lane.transport} tell: the receiver stalled at ${count}/${n} messages`);
  const cpu1 = ownCpuUs();
  return { throughput: n / ((done.lastAt - t0) / 1000), cpu: (cpu1 - cpu0 + done.cpuUs) / n };
};
