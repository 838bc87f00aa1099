import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConsensusClient, TrustClient } from "../actors/index.ts";
import { exportPrivateJwk, generateSigningKey } from "../protocols/index.ts";
import { ControlSigner, NatsCluster, Node, saveSigningKey, silentLogger } from "../runtime/index.ts";
import { valued, type ValueMetric } from "./report.ts";
import { sleep } from "./stats.ts";

export interface ConsensusBenchOptions {
  /** Voters per round size. */
  readonly sizes: readonly number[];
  readonly rounds: number;
}

const root = resolve(import.meta.dirname, "..");
const log = (line: string) => process.stderr.write(`[bench] consensus: ${line}\n`);
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

const startNodeProcess = async (config: object): Promise<ChildProcess> => {
  const child = spawn(process.execPath, ["--import", "tsx", resolve(root, "bench/consensus-node.ts")], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TETHER_BENCH_CONSENSUS: JSON.stringify(config) },
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 180_000;
  while (!/ready/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`a consensus node did not start: ${out.slice(-2000)}`);
    await sleep(100);
  }
  return child;
};

/**
 * A consensus round for each size: `size` voter agents spread over three node processes on a 3-node
 * cluster, each with its own agent key in the network's key registry; the consensus actor (with the
 * trust actor, so weights are declared × trust) on a coordinator node. One round: propose (the actor
 * reads the eligible voters from the registry and their trust scores), then every node's ballot actor
 * signs its voters' votes with their own keys and casts them at once; the round ends when every vote
 * was answered (the last one tallies and mints the decision ECT). Reported: p50 per size, in ms.
 */
export const runConsensus = async (options: ConsensusBenchOptions): Promise<{ metrics: ValueMetric[]; notes: string[] }> => {
  const keyDir = mkdtempSync(join(tmpdir(), "tether-bench-consensus-"));
  const cluster = await NatsCluster.start({ size: 3 });
  const urls = cluster.urls as [string, string, string];
  const children: ChildProcess[] = [];
  let coordinator: Node | undefined;
  const results = new Map<number, number[]>();
  try {
    coordinator = await Node.create({ servers: [urls[0]], jetstreamReplicas: 3, nodeId: "cons-coordinator", assurance: { profile: "standard", keyDir } }, { logger: silentLogger });
    const node = coordinator;
    const trust = await new TrustClient({ limits: { agents: 1_000 } }).attach(node).start();
    const consensus = await new ConsensusClient({ trust }).attach(node).start();
    const ownerKey = await generateSigningKey("ES256");
    const ownerFile = join(keyDir, "bench-owner.jwk.json");
    saveSigningKey(ownerFile, await exportPrivateJwk(ownerKey));
    const owner = await ControlSigner.fromKeyFile(ownerFile, node.network);
    await node.controlNode(node.id, { type: "tether.node.v1.key-publish", kid: ownerKey.kid, alg: ownerKey.alg, role: "owner", owner: "bench-owner", jwk: { ...ownerKey.publicJwk } }, 10_000, { signer: owner });

    // voters: each its own agent key, published in the registry with the voter as owner
    const perNode: { id: string; capability: string; keyFile: string }[][] = [[], [], []];
    let total = 0;
    for (const size of options.sizes) {
      for (let i = 0; i < size; i++) {
        const id = `v${size}-${i}`;
        const key = await generateSigningKey("ES256");
        const keyFile = join(keyDir, `${id}.jwk.json`);
        saveSigningKey(keyFile, await exportPrivateJwk(key));
        await node.controlNode(node.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role: "agent", owner: id, jwk: { ...key.publicJwk } }, 10_000, { signer: owner });
        perNode[i % 3]?.push({ id, capability: `vote-${size}`, keyFile });
        total++;
      }
    }
    log(`starting 3 node processes with ${total} voters (${options.sizes.join(", ")})`);
    for (let n = 0; n < 3; n++) children.push(await startNodeProcess({ url: urls[n], nodeId: `cons-n${n}`, keyDir, voters: perNode[n] }));
    for (const size of options.sizes) {
      const capability = `vote-${size}`;
      for (let w = 0; ; w++) {
        const eligible = (await node.listActors()).filter((r) => r.capabilities.includes(capability)).length;
        if (eligible === size) break;
        if (w > 600) throw new Error(`only ${eligible} of ${size} voters registered`);
        await sleep(100);
      }
      const samples: number[] = [];
      // one warm-up round, then the measured ones
      for (let round = -1; round < options.rounds; round++) {
        const id = `b${size}-${round + 1}-${Date.now()}`;
        const choices = Object.fromEntries(Array.from({ length: size }, (_, i) => [`v${size}-${i}`, i % 10 < 7 ? "up" : "down"]));
        const started = performance.now();
        await consensus.propose({ id, question: `is router ${id} up?`, options: ["up", "down"], capability, rule: { kind: "majority" }, deadline: Date.now() + 60_000 });
        const proposed = performance.now();
        const ballots = await Promise.all([0, 1, 2].map((n) => node.ref(`ballot-cons-n${n}`).ask({ type: "ballot", proposal: id, capability, choices }, { timeoutMs: 60_000 }) as Promise<{ cast: number; refused: number; signedMs: number; lastMs: number }>));
        const elapsed = performance.now() - started;
        const record = await consensus.get(id);
        const cast = ballots.reduce((a, b) => a + b.cast, 0);
        if (record.status !== "decided" || record.votes.length !== size || cast !== size) throw new Error(`round ${id}: ${record.status}, ${record.votes.length} votes counted, ${cast} cast of ${size}`);
        if (round >= 0) samples.push(elapsed);
        log(`${size} voters, round ${round + 1}/${options.rounds}${round < 0 ? " (warm-up)" : ""}: ${elapsed.toFixed(1)} ms (propose ${(proposed - started).toFixed(1)} ms; signed by ${ballots.map((b) => b.signedMs.toFixed(0)).join("/")} ms, answered by ${ballots.map((b) => b.lastMs.toFixed(0)).join("/")} ms), decided ${record.decision}`);
      }
      results.set(size, samples.sort((a, b) => a - b));
    }
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
    await coordinator?.close().catch(() => undefined);
    await cluster.stop();
    rmSync(keyDir, { recursive: true, force: true });
  }
  return {
    metrics: options.sizes.map((size) => valued("consensus", `consensus_${size}_p50`, "ms", percentile(results.get(size) ?? [], 50), size === 100 ? { op: "<=", value: 250 } : undefined)),
    notes: [
      `${options.rounds} measured rounds per size (after one warm-up): voters spread over 3 node processes on a 3-node cluster (R3), standard profile, the consensus and trust actors on a fourth (coordinator) node`,
      "a round: propose (eligible voters from the registry, their trust scores) → every voter's vote signed with its own ES256 agent key and cast at once from its node → the last vote tallies and mints the decision ECT",
    ],
  };
};
