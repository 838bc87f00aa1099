import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { NatsCluster, Node, silentLogger, type NodeEvent } from "../runtime/index.ts";
import { OrderBook } from "./failover-actor.ts";
import { valued, type ValueMetric } from "./report.ts";
import { median, sleep } from "./stats.ts";

export interface FailoverOptions {
  readonly rounds: number;
  readonly leaseMs: number;
}

const root = resolve(import.meta.dirname, "..");
const log = (line: string) => process.stderr.write(`[bench] failover: ${line}\n`);

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

/**
 * Time from SIGKILL of a node process to its durable actor answering again on a survivor, over
 * repeated kills on a 3-node cluster (the registry's KV leader is not killed: only node processes are).
 */
export const runFailover = async (options: FailoverOptions): Promise<{ metrics: ValueMetric[]; notes: string[] }> => {
  const cluster = await NatsCluster.start({ size: 3 });
  const [u1, u2, u3] = cluster.urls as [string, string, string];
  const survivors: Node[] = [];
  const times: number[] = [];
  try {
    for (const url of [u2, u3]) {
      const n = await Node.create({ servers: [url], jetstreamReplicas: 3, heartbeatMs: Math.max(50, Math.floor(options.leaseMs / 4)), leaseTtlMs: options.leaseMs }, { logger: silentLogger });
      n.registerType(OrderBook, { durable: true });
      survivors.push(n);
    }
    const [b] = survivors as [Node];
    for (let round = 0; round < options.rounds; round++) {
      const nodeId = `victim-${round}-${Date.now() % 100000}`;
      const child = spawn(
        process.execPath,
        ["--import", "tsx", resolve(root, "cli/main.ts"), "node", "start", "--nats", u1, "--replicas", "3", "--lease-ms", String(options.leaseMs), "--node-id", nodeId, "--agents", "bench/failover-agents.ts"],
        { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      child.stdout.on("data", (c: Buffer) => (out += c.toString()));
      const deadline = Date.now() + 60_000;
      while (!/up on/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`victim did not start: ${out}`);
        await sleep(25);
      }
      const service = `svc-${nodeId}`;
      const ref = b.ref<typeof OrderBook>(service);
      for (let i = 0; i < 20; i++) await ref.send({ type: "work", n: i });
      await sleep(300); // let heartbeats settle
      let offs: (() => void)[] = [];
      const moved = new Promise<void>((done) => {
        offs = survivors.map((s) => s.onEvent((e: NodeEvent) => e.type === "actor-failed-over" && e.actorId === service && done()));
      });
      const killedAt = performance.now();
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      await Promise.race([moved, sleep(30_000)]);
      for (const off of offs) off();
      // serving again: the survivor answers an ask
      for (;;) {
        const ok = await ref.ask({ type: "ping" }, { timeoutMs: 1_000 }).then(() => true, () => false);
        if (ok) break;
        if (performance.now() - killedAt > 60_000) throw new Error(`${service} did not come back`);
        await sleep(10);
      }
      const ms = performance.now() - killedAt;
      times.push(ms);
      log(`round ${round + 1}/${options.rounds}: ${service} serving again after ${ms.toFixed(0)} ms`);
    }
  } finally {
    for (const s of survivors) await s.close().catch(() => undefined);
    await cluster.stop();
  }
  const sorted = [...times].sort((x, y) => x - y);
  return {
    metrics: [
      valued("failover", "failover_p50", "ms", median(times), { op: "<=", value: 2_000 }),
      valued("failover", "failover_p99", "ms", percentile(sorted, 99)),
      valued("failover", "failover_max", "ms", sorted.at(-1) ?? Number.NaN),
      valued("failover", "lease_ttl", "ms", options.leaseMs),
    ],
    notes: [
      `${options.rounds} kills; time = SIGKILL of the node process → first successful ask to its durable actor on a survivor`,
      `detection needs the lease (${options.leaseMs} ms) to lapse, then a heartbeat scan (lease/4) and the takeover (claim, checkpoint, consumer)`,
    ],
  };
};
