import { createAuditLedgerDeps } from "../actors/index.ts";
import { NatsServer, Node, type AssuranceProfile } from "../runtime/index.ts";
import { CountingLogger } from "./counting-logger.ts";
import { Hopper, LedgerTally, TalliedAuditLedger } from "./ect-actors.ts";
import { compared, progress, type ComparedMetric } from "./report.ts";
import { latencyHistogram, median, ownCpuUs, procCpuUs, within } from "./stats.ts";

export interface EctWorkflowOptions {
  readonly rounds: number;
  /** Workflows per round and profile (each runs `HOPS.length` steps). */
  readonly workflows: number;
  /** Workflows in flight at once (each in its own lane of actors). */
  readonly lanes: number;
  /** Temporary directory for the regulated nodes' and the ledger's keys (removed by the caller). */
  readonly keyDir: string;
}

export interface WorkflowRun {
  readonly stepsPerSecond: number;
  /** CPU of this process (every node of the profile runs in it) per step. */
  readonly cpuPerStep: number;
  /** CPU of the profile's nats-server per step (10 ms resolution). */
  readonly serverCpuPerStep: number;
  /** Workflow latency (driver ask to reply), µs. */
  readonly p50: number;
  readonly p99: number;
}

type Profile = Extract<AssuranceProfile, "relaxed" | "regulated">;

const NETWORK = "benchwf";
/** The draft's use-case chain, three hops: node A, node B, node A again. */
const HOPS = [
  { action: "review_requirements_spec", node: "a" },
  { action: "implement_module", node: "b" },
  { action: "execute_test_suite", node: "a" },
] as const;
const RUN_LIMIT_MS = 300_000;
const WORKFLOW_TIMEOUT_MS = 30_000;

/** One profile's world: its own nats-server, nodes A and B (and the ledger node when regulated), the lanes' actors. */
export class ProfileWorld {
  readonly nodes: Node[] = [];
  readonly logger: CountingLogger;
  /** Batches and busy time of the audit ledger actor (regulated only). */
  readonly ledgerTally = new LedgerTally();
  #server: NatsServer | undefined;

  constructor(readonly profile: Profile) {
    this.logger = new CountingLogger({ profile });
  }

  get server(): NatsServer {
    if (this.#server === undefined) throw new Error(`${this.profile}: not started`);
    return this.#server;
  }

  async start(options: EctWorkflowOptions): Promise<void> {
    this.#server = await NatsServer.start({ name: `bench-ect-${this.profile}` });
    const assurance = { profile: this.profile, keyDir: options.keyDir };
    const node = async (nodeId: string): Promise<Node> => {
      const n = await Node.create({ servers: [this.server.url], nodeId, network: NETWORK, assurance }, { logger: this.logger });
      this.nodes.push(n);
      return n;
    };
    if (this.profile === "regulated") {
      // the ledger runs on its own node (an entity independent of the workflow's agents)
      const ledger = await node("wf-ledger");
      await ledger.spawn("audit", TalliedAuditLedger, { args: [await createAuditLedgerDeps(ledger, { keyDir: options.keyDir }), this.ledgerTally] });
    }
    const a = await node("wf-a");
    const b = await node("wf-b");
    for (let lane = 0; lane < options.lanes; lane++) {
      for (const [i, hop] of HOPS.entries()) await (hop.node === "a" ? a : b).spawn(actorId(lane, i), Hopper);
    }
    progress(`ect workflow: ${this.profile}: nats-server ${this.server.url} (pid ${this.server.pid}); ${this.nodes.map((n) => n.id).join(", ")}; ${options.lanes} lanes × ${HOPS.length} actors`);
  }

  /** `n` workflows, `lanes` at a time: the driver (on node A) asks each lane's first actor. */
  async run(n: number, lanes: number): Promise<WorkflowRun> {
    const a = this.nodes.find((x) => x.id === "wf-a");
    if (a === undefined) throw new Error(`${this.profile}: node A missing`);
    const histogram = latencyHistogram();
    let issued = 0;
    const laneWorker = async (lane: number): Promise<void> => {
      const head = a.ref<typeof Hopper>(actorId(lane, 0));
      const hops = HOPS.map((h, i) => ({ actor: actorId(lane, i), action: h.action }));
      while (issued < n) {
        const seq = issued++;
        const start = performance.now();
        const steps = await head.ask({ type: "step", hops, seq }, { timeoutMs: WORKFLOW_TIMEOUT_MS });
        histogram.recordValue(Math.max(1, Math.round((performance.now() - start) * 1000)));
        if (steps !== HOPS.length) throw new Error(`${this.profile}: workflow ${seq} ran ${String(steps)} of ${HOPS.length} steps`);
      }
    };
    this.ledgerTally.reset();
    const server0 = procCpuUs(this.server.pid) ?? Number.NaN;
    const cpu0 = ownCpuUs();
    const t0 = performance.now();
    await within(Promise.all(Array.from({ length: Math.min(lanes, n) }, (_, lane) => laneWorker(lane))), RUN_LIMIT_MS, `${this.profile} workflows`);
    const elapsed = performance.now() - t0;
    const cpu1 = ownCpuUs();
    const server1 = procCpuUs(this.server.pid) ?? Number.NaN;
    const steps = n * HOPS.length;
    return {
      stepsPerSecond: steps / (elapsed / 1000),
      cpuPerStep: (cpu1 - cpu0) / steps,
      serverCpuPerStep: (server1 - server0) / steps,
      p50: histogram.getValueAtPercentile(50),
      p99: histogram.getValueAtPercentile(99),
    };
  }

  async stop(): Promise<void> {
    // workflow nodes first, the ledger last (it checkpoints what it holds when it stops)
    for (const n of [...this.nodes].reverse()) await n.close().catch((error: unknown) => progress(`ect workflow: closing ${n.id} failed: ${String(error)}`));
    await this.#server?.stop();
  }
}

const actorId = (lane: number, hop: number): string => `l${lane}-h${hop}`;

/**
 * Part `workflow` of `bench ect`: the same 3-step workflow (a chain of `Hopper` actors over two nodes,
 * `lanes` workflows in flight) under the `regulated` profile (signed ECTs, DAG store, every ECT in
 * the audit ledger with a receipt before `ctx.act` returns) and under `relaxed` (unsigned ECTs), each
 * profile on its own nats-server, interleaved round by round. tether = regulated, raw = relaxed.
 */
export const runEctWorkflow = async (options: EctWorkflowOptions): Promise<{ metrics: ComparedMetric[]; notes: string[] }> => {
  const worlds = { relaxed: new ProfileWorld("relaxed"), regulated: new ProfileWorld("regulated") };
  try {
    await worlds.relaxed.start(options);
    await worlds.regulated.start(options);
    const warm = Math.min(options.workflows, Math.max(options.lanes * 4, 64));
    for (const w of [worlds.relaxed, worlds.regulated]) await w.run(warm, options.lanes);
    progress(`ect workflow: warm-up done (${warm} workflows per profile)`);

    const runs: Record<Profile, WorkflowRun[]> = { relaxed: [], regulated: [] };
    let ledgerSeen = "";
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? [worlds.relaxed, worlds.regulated] : [worlds.regulated, worlds.relaxed];
      for (const w of order) {
        const r = await w.run(options.workflows, options.lanes);
        runs[w.profile].push(r);
        if (w.profile === "regulated") ledgerSeen = w.ledgerTally.summary();
        progress(
          `ect workflow: round ${round} ${w.profile}: ${Math.round(r.stepsPerSecond)} steps/s, cpu ${r.cpuPerStep.toFixed(0)} µs/step, server ${r.serverCpuPerStep.toFixed(0)} µs/step, workflow p50 ${(r.p50 / 1000).toFixed(1)} ms p99 ${(r.p99 / 1000).toFixed(1)} ms`,
        );
        if (w.profile === "regulated") progress(`ect workflow: round ${round} regulated ledger: ${ledgerSeen}`);
      }
    }
    const m = (profile: Profile, pick: (r: WorkflowRun) => number) => median(runs[profile].map(pick));
    const both = (metric: string, unit: string, pick: (r: WorkflowRun) => number, target?: Parameters<typeof compared>[5]) =>
      compared("ect", metric, unit, m("regulated", pick), m("relaxed", pick), target);
    const notes: string[] = [
      "workflow: every node of a profile runs in this process (one event loop); each profile has its own nats-server",
      `workflow, last regulated round: ${ledgerSeen}`,
    ];
    for (const w of [worlds.relaxed, worlds.regulated]) {
      const logged = w.logger.summary();
      if (logged.length > 0) notes.push(`${w.profile} node log records (warn/error): ${logged.join("; ")}`);
    }
    return {
      metrics: [
        both("workflow_step_rate", "steps/s", (r) => r.stepsPerSecond, { op: ">=", value: 0.5 }),
        both("workflow_cpu_per_step", "µs/step", (r) => r.cpuPerStep),
        both("workflow_server_cpu_per_step", "µs/step", (r) => r.serverCpuPerStep),
        both("workflow_p50", "µs", (r) => r.p50),
        both("workflow_p99", "µs", (r) => r.p99),
      ],
      notes,
    };
  } finally {
    await worlds.regulated.stop();
    await worlds.relaxed.stop();
  }
};
