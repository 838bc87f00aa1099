import { z } from "zod";

/** Options of cascade detection; every default documented on its field. */
export const CascadeMonitorOptions = z.strictObject({
  /** Actor id of the network's cascade monitor. Default `cascade-monitor`. */
  id: z.string().min(1).max(128).default("cascade-monitor"),
  /** Sliding window of edge statistics. Default 10 s. */
  windowMs: z.number().int().min(100).max(600_000).default(10_000),
  /** Calls an edge needs in the window before its health is judged. Default 5. */
  minimumCalls: z.number().int().min(1).default(5),
  /** An agent is failing when this share of the calls to it failed (or were slow). Default 0.5. */
  failureRateThreshold: z.number().gt(0).max(1).default(0.5),
  /** A call slower than this counts as failed. Default 2 s. */
  slowCallMs: z.number().int().positive().default(2_000),
  /** A cascade is declared when at least this many agents in one call chain are failing. Default 2. */
  spreadThreshold: z.number().int().min(2).default(2),
  /** How long the failing subtree stays quarantined (its breakers forced open). Default 30 s. */
  quarantineMs: z.number().int().positive().default(30_000),
  /** How often nodes publish their edge statistics and the monitor evaluates. Default 1 s. */
  intervalMs: z.number().int().min(50).default(1_000),
});
export type CascadeMonitorOptionsInput = z.input<typeof CascadeMonitorOptions>;
export type CascadeMonitorOptionsResolved = z.output<typeof CascadeMonitorOptions>;

export interface CascadeEvent {
  readonly type: "cascade";
  /** The agent the failure started from: failing, while what it calls is healthy. */
  readonly origin: string;
  /** Failing agents that call (directly or through others) the origin. */
  readonly affected: readonly string[];
  /** Agents paused and whose breakers were forced open, cluster-wide, until `until`. */
  readonly quarantined: readonly string[];
  readonly until: number;
}
