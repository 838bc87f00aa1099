/**
 * `bench agents <scenario>`: runs a scenario's agents on a real nats-server, `runs` times, and measures
 * per agent what the scenario's score says about their answers (accuracy), how long each answer took
 * (latency, measured by the caller), and what the runtime recorded about their actions: the action
 * ECTs, the violation evidence ECTs and the metered units in each ECT. Nothing is taken from what an
 * agent says about itself.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TETHER_EXT_PREFIX, decodeEctUnverified, isTetherError } from "../protocols/index.ts";
import { NatsServer, Node, PROFILE_VIOLATION_ACT, silentLogger, type StoredEctRecord } from "../runtime/index.ts";
import { agentMetrics, summarise, type AgentMetric, type AgentRunObservation, type AgentSummary } from "./agent-metrics.ts";
import { mixSeed, seededRandom } from "./scenarios/random.ts";
import type { AgentReply, Scenario, ScenarioAgent, ScenarioTask } from "./scenarios/scenario.ts";

export interface ScenarioRunOptions {
  /** Measured runs (each on a fresh network: fresh ECT store, rate history and agents). */
  readonly runs: number;
  /** Tasks per run (default: the scenario's). */
  readonly tasks?: number | undefined;
  /** Base seed: run r uses seeds mixed from (seed, r), so the same seed repeats the same workloads. */
  readonly seed: number;
  /** An unmeasured run of a few tasks first (JIT, connections), so run 1 is not the odd one out. */
  readonly warmup?: boolean;
  readonly askTimeoutMs?: number;
  readonly progress?: (line: string) => void;
  /** Called after each measured run, while the server still runs (tests read the run's records independently). */
  readonly afterRun?: (run: { readonly index: number; readonly network: string; readonly serverUrl: string }) => Promise<void>;
}

export interface ScenarioReport {
  readonly scenario: string;
  readonly unit: string;
  readonly runs: number;
  readonly tasks: number;
  readonly seed: number;
  /** observations[r] lists the agents of run r, in the scenario's order. */
  readonly observations: readonly (readonly AgentRunObservation[])[];
  /** `profile-violation` node events per run and agent: must equal the evidence ECTs (a cross-check). */
  readonly violationEvents: readonly Readonly<Record<string, number>>[];
  readonly summaries: readonly AgentSummary[];
  readonly metrics: readonly AgentMetric[];
  readonly notes: readonly string[];
}

const DEFAULT_ASK_TIMEOUT_MS = 30_000;

/** What the runtime recorded for one agent, read from the network's ECT DAG store. */
export interface RecordedConduct {
  readonly actions: number;
  readonly violations: number;
  readonly units: number;
}

/**
 * Rolls up stored ECT records per actor: action ECTs (any outcome; the runtime's own `tether.*` records
 * are not actions), violation evidence, and the `unit` metered into each action's usage.
 */
export const conductOf = (records: Iterable<StoredEctRecord>, unit: string): Map<string, RecordedConduct> => {
  const out = new Map<string, { actions: number; violations: number; units: number }>();
  for (const r of records) {
    if (r.actor === undefined) continue;
    const row = out.get(r.actor) ?? { actions: 0, violations: 0, units: 0 };
    out.set(r.actor, row);
    if (r.exec_act === PROFILE_VIOLATION_ACT) row.violations++;
    else if (!r.exec_act.startsWith("tether.")) {
      row.actions++;
      row.units += meteredUnits(r.token, unit);
    }
  }
  return out;
};

const meteredUnits = (token: string, unit: string): number => {
  const ext = (decodeEctUnverified(token).claims["ext"] ?? {}) as Record<string, unknown>;
  const usage = (ext[`${TETHER_EXT_PREFIX}usage`] ?? {}) as { units?: Record<string, unknown> };
  const amount = usage.units?.[unit];
  return typeof amount === "number" && Number.isFinite(amount) ? amount : 0;
};

/** Asks each agent every task, in an order that rotates per task so no agent always goes first. */
const drive = async (desk: Node, agents: readonly ScenarioAgent[], tasks: readonly ScenarioTask[], scenario: Scenario, timeoutMs: number) => {
  const latencies = new Map<string, number[]>(agents.map((a) => [a.id, []]));
  const correct = new Map<string, number>(agents.map((a) => [a.id, 0]));
  for (const [i, task] of tasks.entries()) {
    for (let k = 0; k < agents.length; k++) {
      const agent = agents[(i + k) % agents.length] as ScenarioAgent;
      let reply: AgentReply;
      const started = performance.now();
      try {
        reply = { ok: true, value: await desk.ref(agent.id).ask(task.message, { timeoutMs }) };
      } catch (error) {
        reply = { ok: false, code: isTetherError(error) ? error.code : "ERR_UNKNOWN", message: error instanceof Error ? error.message : String(error) };
      }
      latencies.get(agent.id)?.push(performance.now() - started);
      if (scenario.score(task, reply)) correct.set(agent.id, (correct.get(agent.id) ?? 0) + 1);
    }
  }
  return { latencies, correct };
};

/** One run on its own network: spawn the agents on one node, ask them from another, read the ECT store. */
const runOnce = async (scenario: Scenario, server: NatsServer, keyDir: string, network: string, seed: number, size: number, timeoutMs: number) => {
  const assurance = { profile: "standard" as const, keyDir };
  const host = await Node.create({ servers: [server.url], nodeId: "agents", network, assurance }, { logger: silentLogger });
  const desk = await Node.create({ servers: [server.url], nodeId: "desk", network, assurance }, { logger: silentLogger }).catch(async (error: unknown) => {
    await host.close().catch(() => undefined);
    throw error;
  });
  const events: Record<string, number> = {};
  const unsubscribe = host.onEvent((e) => {
    if (e.type === "profile-violation") events[e.actorId] = (events[e.actorId] ?? 0) + 1;
  });
  try {
    const tasks = runWorkload(scenario, seed, size);
    for (const agent of scenario.agents) {
      await host.spawn(agent.id, agent.actor, { args: [...(agent.args?.({ seed: agentSeed(seed, agent.id), tasks: tasks.length }) ?? [])] });
    }
    const { latencies, correct } = await drive(desk, scenario.agents, tasks, scenario, timeoutMs);
    const records: StoredEctRecord[] = [];
    for await (const r of host.assurance.store.all()) records.push(r);
    const conduct = conductOf(records, scenario.unit);
    const observations: AgentRunObservation[] = scenario.agents.map((a) => ({
      agent: a.id,
      tasks: tasks.length,
      correct: correct.get(a.id) ?? 0,
      latenciesMs: latencies.get(a.id) ?? [],
      actions: conduct.get(a.id)?.actions ?? 0,
      violations: conduct.get(a.id)?.violations ?? 0,
      units: conduct.get(a.id)?.units ?? 0,
    }));
    return { observations, events: { ...events } };
  } finally {
    unsubscribe();
    await desk.close().catch(() => undefined);
    await host.close().catch(() => undefined);
  }
};

/** The seed of run r (0-based): the workload's and each agent's seeds are mixed from it. */
export const runSeed = (seed: number, run: number): number => mixSeed(seed, run);

/** The seed an agent gets in a run whose seed is `seed` (its `args({ seed })`). */
export const agentSeed = (seed: number, agentId: string): number => mixSeed(seed, agentId);

/** The tasks of a run whose seed is `seed`. */
export const runWorkload = (scenario: Scenario, seed: number, size: number): readonly ScenarioTask[] => scenario.workload(seededRandom(mixSeed(seed, "workload")), size);

export const runScenario = async (scenario: Scenario, options: ScenarioRunOptions): Promise<ScenarioReport> => {
  const size = options.tasks ?? scenario.defaultTasks;
  const timeoutMs = options.askTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
  const progress = options.progress ?? (() => undefined);
  const keyDir = mkdtempSync(join(tmpdir(), "tether-bench-agents-"));
  const server = await NatsServer.start({ name: "bench-agents" });
  try {
    if (options.warmup === true) {
      await runOnce(scenario, server, keyDir, `${scenario.name}-warmup`, mixSeed(options.seed, "warmup"), Math.min(5, size), timeoutMs);
      progress("warm-up run done");
    }
    const observations: AgentRunObservation[][] = [];
    const violationEvents: Record<string, number>[] = [];
    for (let r = 0; r < options.runs; r++) {
      const network = `${scenario.name}-run${r + 1}`;
      const run = await runOnce(scenario, server, keyDir, network, runSeed(options.seed, r), size, timeoutMs);
      await options.afterRun?.({ index: r, network, serverUrl: server.url });
      observations.push(run.observations);
      violationEvents.push(run.events);
      progress(`run ${r + 1}/${options.runs}: ${run.observations.map((o) => `${o.agent} ${o.correct}/${o.tasks}`).join(", ")}`);
    }
    const summaries = summarise(observations);
    const notes: string[] = [];
    observations.forEach((run, r) => {
      for (const o of run) {
        const seen = violationEvents[r]?.[o.agent] ?? 0;
        if (seen !== o.violations) notes.push(`run ${r + 1}, ${o.agent}: ${o.violations} violation evidence records but ${seen} profile-violation events`);
      }
    });
    return {
      scenario: scenario.name,
      unit: scenario.unit,
      runs: options.runs,
      tasks: size,
      seed: options.seed,
      observations,
      violationEvents,
      summaries,
      metrics: summaries.flatMap((s) => agentMetrics(scenario.name, scenario.unit, s)),
      notes,
    };
  } finally {
    await server[Symbol.asyncDispose]().catch(() => undefined);
    rmSync(keyDir, { recursive: true, force: true });
  }
};
