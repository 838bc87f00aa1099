import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect } from "@nats-io/transport-node";
import { AuditLedger, OverrideActor, OverrideClient, createAuditLedgerDeps, createOverridePorts } from "../actors/index.ts";
import { OVERRIDE_ACTOR_ID, OverrideAck, decodeBody, exportPrivateJwk, generateSigningKey, overrideSubjects, type KeyRole } from "../protocols/index.ts";
import { ControlSigner, NatsCluster, Node, saveSigningKey, silentLogger } from "../runtime/index.ts";
import { valued, type ValueMetric } from "./report.ts";
import { sleep } from "./stats.ts";

export interface OverrideBenchOptions {
  readonly actors: number;
  readonly rounds: number;
}

const root = resolve(import.meta.dirname, "..");
const log = (line: string) => process.stderr.write(`[bench] override: ${line}\n`);
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

const startNodeProcess = async (url: string, nodeId: string, perNode: number): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ["--import", "tsx", resolve(root, "cli/main.ts"), "node", "start", "--nats", url, "--replicas", "3", "--node-id", nodeId, "--log-level", "error", "--agents", "bench/override-agents.ts"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TETHER_BENCH_OVERRIDE_PER_NODE: String(perNode) },
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 180_000;
  while (!/up on/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`node ${nodeId} did not start: ${out.slice(-2000)}`);
    await sleep(100);
  }
  return child;
};

/**
 * Emergency stop of every agent of the network (`actors` idle agents over three node processes on a
 * 3-node cluster), then a lift, `rounds` times. For each acknowledgement: the time from the issuer's
 * send to its arrival at the issuer (end to end: signing, the override actor's checks, the KV write,
 * the broadcast, each node's verification and application), and from the broadcast's arrival at the
 * issuer to the acknowledgement (fan-out only). Coverage: acknowledged / expected, worst round.
 */
export const runOverride = async (options: OverrideBenchOptions): Promise<{ metrics: ValueMetric[]; notes: string[] }> => {
  const perNode = Math.ceil(options.actors / 3);
  const keyDir = mkdtempSync(join(tmpdir(), "tether-bench-override-"));
  const cluster = await NatsCluster.start({ size: 3 });
  const urls = cluster.urls as [string, string, string];
  const children: ChildProcess[] = [];
  let coordinator: Node | undefined;
  const fromSend: number[] = [];
  const fromBroadcast: number[] = [];
  let worstCoverage = 1;
  try {
    coordinator = await Node.create({ servers: [urls[0]], jetstreamReplicas: 3, nodeId: "ov-coordinator", assurance: { keyDir } }, { logger: silentLogger });
    await coordinator.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(coordinator, { keyDir, checkpointEvery: 1000 })] });
    await coordinator.spawn(OVERRIDE_ACTOR_ID, OverrideActor, { args: [await createOverridePorts(coordinator)] });
    const person = async (role: KeyRole, name: string, publisher?: ControlSigner): Promise<ControlSigner> => {
      const key = await generateSigningKey("ES256");
      const file = join(keyDir, `${name}.jwk.json`);
      saveSigningKey(file, await exportPrivateJwk(key));
      const signer = await ControlSigner.fromKeyFile(file, coordinator?.network ?? "default");
      await coordinator?.controlNode(coordinator.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } }, 10_000, { signer: publisher ?? signer });
      return signer;
    };
    const operator = await person("operator", "bench-operator", await person("owner", "bench-owner"));
    log(`starting 3 node processes with ${perNode} agents each`);
    for (let i = 0; i < 3; i++) children.push(await startNodeProcess(urls[i] as string, `ovn${i}`, perNode));
    const nc = await connect({ servers: urls[1] });
    try {
      const client = new OverrideClient({ nc, signer: operator });
      const subjects = overrideSubjects(coordinator.network);
      for (let round = 0; round < options.rounds; round++) {
        await sleep(500);
        const id = `bench-stop-${round}-${Date.now()}`;
        const arrivals = new Map<string, number>();
        let broadcastAt = Number.NaN;
        const sig = nc.subscribe(subjects.signals(), { callback: () => void (Number.isNaN(broadcastAt) ? (broadcastAt = performance.now()) : undefined) });
        const acks = nc.subscribe(subjects.acks(id), {
          callback: (_e, m) => {
            const ack = OverrideAck.safeParse(decodeBody(m.data));
            if (ack.success && !arrivals.has(ack.data.actorId)) arrivals.set(ack.data.actorId, performance.now());
          },
        });
        await nc.flush();
        const sentAt = performance.now();
        const outcome = await client.issue({ id, action: "stop", scope: { kind: "network" }, level: "emergency", reason: `bench round ${round}`, ackDeadlineMs: 10_000 });
        sig.unsubscribe();
        acks.unsubscribe();
        const expected = outcome.coverage.expected ?? [];
        for (const actorId of expected) {
          const at = arrivals.get(actorId);
          if (at === undefined) continue;
          fromSend.push(at - sentAt);
          fromBroadcast.push(at - broadcastAt);
        }
        worstCoverage = Math.min(worstCoverage, outcome.coverage.fraction);
        const sorted = expected.map((a) => (arrivals.get(a) ?? Number.NaN) - sentAt).sort((x, y) => x - y);
        log(`round ${round + 1}/${options.rounds}: ${outcome.coverage.acked.size}/${expected.length} acknowledged; broadcast seen ${(broadcastAt - sentAt).toFixed(1)} ms after send, last ack ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms after send`);
        await client.lift(id, { ackDeadlineMs: 10_000 });
      }
    } finally {
      await nc.close();
    }
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
    await coordinator?.close().catch(() => undefined);
    await cluster.stop();
    rmSync(keyDir, { recursive: true, force: true });
  }
  const s = [...fromSend].sort((x, y) => x - y);
  const b = [...fromBroadcast].sort((x, y) => x - y);
  return {
    metrics: [
      valued("override", "override_ack_p50", "ms", percentile(s, 50)),
      valued("override", "override_ack_p99", "ms", percentile(s, 99), { op: "<=", value: 50 }),
      valued("override", "override_ack_max", "ms", s.at(-1) ?? Number.NaN),
      valued("override", "override_coverage", "fraction", worstCoverage, { op: ">=", value: 1 }),
      valued("override", "override_fanout_p50", "ms", percentile(b, 50)),
      valued("override", "override_fanout_p99", "ms", percentile(b, 99)),
    ],
    notes: [
      `${options.rounds} rounds: emergency stop (--network) to ${perNode * 3} agents over 3 node processes on a 3-node cluster, then lift`,
      "override_ack_*: issuer's send → each agent's acknowledgement at the issuer (signing, the override actor's checks and KV write, broadcast, each node's verification, KV check, application)",
      "override_fanout_*: the broadcast's arrival at the issuer → each acknowledgement (fan-out and application only)",
      "coverage: acknowledged / expected (expected from the registry), the worst round",
    ],
  };
};
