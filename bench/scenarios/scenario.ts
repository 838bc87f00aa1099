import type { ActorClass } from "../../runtime/index.ts";
import type { Random } from "./random.ts";

/**
 * An agent benchmark scenario (`npm run bench -- agents <name>`): the agents with their behavioural
 * profiles (declared on their classes), a seeded workload of tasks with known expected outcomes, and
 * how to score what an agent answered. The harness (`bench/agent-scenarios.ts`) runs it; accuracy
 * comes from `score`, everything else (latency, metered units, violations) from measurement and the
 * runtime's own records.
 */
export interface Scenario {
  readonly name: string;
  /** One line for `--help` and the report. */
  readonly description: string;
  /** The unit the agents meter with `ctx.meter(unit, n)` inside their actions (efficiency is per success in it). */
  readonly unit: string;
  /** Tasks per run when `--tasks` is not given. */
  readonly defaultTasks: number;
  readonly agents: readonly ScenarioAgent[];
  /** The tasks of one run. Deterministic in `random` (seeded per run): the same seed, the same tasks. */
  workload(random: Random, size: number): readonly ScenarioTask[];
  /** Whether an agent's reply to a task is a correct outcome. */
  score(task: ScenarioTask, reply: AgentReply): boolean;
}

export interface ScenarioAgent {
  /** The actor id (and the name in the report). */
  readonly id: string;
  /** What sets this agent apart, for the report's notes. */
  readonly role: string;
  /** The agent's class: its `protocol`, `profile` and `handle`. */
  readonly actor: ActorClass;
  /** Constructor arguments for one run: the agent's seed for that run and the run's task count. */
  readonly args?: (run: { readonly seed: number; readonly tasks: number }) => readonly unknown[];
}

export interface ScenarioTask {
  readonly id: string;
  /** The message every agent is asked with. */
  readonly message: unknown;
  /** The expected outcome (ground truth of the workload, never an agent's answer). */
  readonly expected: string;
}

/** What came back from asking an agent: its reply, or the error the ask failed with. */
export type AgentReply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly code: string; readonly message: string };
