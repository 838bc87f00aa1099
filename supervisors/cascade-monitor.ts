import { z } from "zod";
import type { KV } from "@nats-io/kv";
import type { Subscription } from "@nats-io/transport-node";
import { EdgeReport, decodeBody, encodeBody, isValidToken } from "../protocols/index.ts";
import { ensureKvBucket, type Node, type TimerHandle } from "../runtime/index.ts";
import type { BreakerSnapshot } from "./circuit-breaker.ts";
import { parseJson } from "./guarded-calls.ts";
import { parseSupervisorOptions } from "./supervisor-errors.ts";

/** Options of cascade detection; every default documented on its field. */
export const CascadeMonitorOptions = z.strictObject({
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


/**
 * Cascade detection and blast-radius containment. Every participating node records the outcome of
 * its asks (`CascadeMonitor.attach(node)`) and publishes per-edge counts each interval; the monitor
 * (`CascadeMonitor.start(node)`, typically one per network) keeps a sliding window of the
 * who-calls-whom graph. When failing agents form a chain of at least `spreadThreshold`, it names the
 * origin and the affected callers, forces their shared circuit breakers open across the cluster for
 * `quarantineMs` (so callers using GuardedCalls fail fast or take their fallbacks instead of hanging),
 * emits a `cascade` event and records `cascade.contained` in the audit ledger.
 */
export class CascadeMonitor implements AsyncDisposable {
  readonly options: z.output<typeof CascadeMonitorOptions>;
  readonly #node: Node;
  readonly #kv: KV;
  readonly #listeners = new Set<(e: CascadeEvent) => void>();
  /** [at, caller, target, calls, failures] */
  #samples: [number, string, string, number, number][] = [];
  readonly #quarantinedUntil = new Map<string, number>();
  #sub: Subscription | undefined;
  #timer: TimerHandle | undefined;

  private constructor(node: Node, kv: KV, options: z.output<typeof CascadeMonitorOptions>) {
    this.#node = node;
    this.#kv = kv;
    this.options = options;
  }

  /** Runs the monitor on `node`. */
  static async start(node: Node, input: CascadeMonitorOptionsInput = {}): Promise<CascadeMonitor> {
    const options = parseSupervisorOptions(CascadeMonitorOptions, input, "cascade monitor options");
    const kv = await ensureKvBucket(node.nats, node.subjects.breakersBucket(), { history: 1, replicas: node.options.jetstreamReplicas });
    const monitor = new CascadeMonitor(node, kv, options);
    monitor.#sub = node.nats.subscribe(node.subjects.cascadeEdges(), {
      callback: (_err, msg) => {
        try {
          const report = EdgeReport.parse(decodeBody(msg.data));
          monitor.#ingest(report);
        } catch {
          /* a malformed report is ignored: it cannot trigger containment */
        }
      },
    });
    monitor.#timer = node.clock.setInterval(() => void monitor.evaluate(), options.intervalMs);
    monitor.#timer.unref?.();
    return monitor;
  }

  /**
   * Makes `node` record the outcome of its asks and publish edge counts every `intervalMs`. Returns a
   * function that stops it.
   */
  static attach(node: Node, input: Pick<CascadeMonitorOptionsInput, "slowCallMs" | "intervalMs"> = {}): () => void {
    const slowCallMs = input.slowCallMs ?? 2_000;
    const counts = new Map<string, [string, string, number, number]>();
    node.observeCalls((from, target, durationMs, code) => {
      const key = `${from} ${target}`;
      const c = counts.get(key) ?? [from, target, 0, 0];
      c[2]++;
      // a refusal by a guard is not the target's failure; the caller's own mistakes are not either
      const failed = (code !== undefined && !["ERR_BREAKER_OPEN", "ERR_BULKHEAD_FULL", "ERR_MESSAGE_INVALID", "ERR_MESSAGE_UNKNOWN_TYPE"].includes(code)) || durationMs >= slowCallMs;
      if (failed) c[3]++;
      counts.set(key, c);
    });
    const timer = node.clock.setInterval(() => {
      if (counts.size === 0) return;
      const report: EdgeReport = { type: "tether.cascade.v1.edges", node: node.id, at: node.clock.now(), edges: [...counts.values()].slice(0, 10_000) };
      counts.clear();
      try {
        node.nats.publish(node.subjects.cascadeEdges(), encodeBody(report));
      } catch {
        /* the connection is closing */
      }
    }, input.intervalMs ?? 1_000);
    timer.unref?.();
    return () => {
      node.clock.clearInterval(timer);
      node.observeCalls(undefined);
    };
  }

  onCascade(listener: (e: CascadeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #ingest(report: EdgeReport): void {
    const at = this.#node.clock.now();
    for (const [caller, target, calls, failures] of report.edges) this.#samples.push([at, caller, target, calls, failures]);
  }

  /** Judges the current window; contains a cascade if one is found. Runs every interval (public for tests). */
  async evaluate(): Promise<CascadeEvent | undefined> {
    const now = this.#node.clock.now();
    this.#samples = this.#samples.filter((s) => now - s[0] <= this.options.windowMs);
    // per target: calls and failures over all its callers; per caller: the targets it calls
    const totals = new Map<string, { calls: number; failures: number }>();
    const callees = new Map<string, Set<string>>();
    for (const [, caller, target, calls, failures] of this.#samples) {
      const t = totals.get(target) ?? { calls: 0, failures: 0 };
      t.calls += calls;
      t.failures += failures;
      totals.set(target, t);
      callees.set(caller, (callees.get(caller) ?? new Set()).add(target));
    }
    const failing = new Set(
      [...totals].filter(([, t]) => t.calls >= this.options.minimumCalls && t.failures / t.calls >= this.options.failureRateThreshold).map(([id]) => id),
    );
    // an origin fails while nothing it calls is failing; affected agents are failing callers upstream of it
    for (const origin of failing) {
      if ([...(callees.get(origin) ?? [])].some((c) => failing.has(c))) continue;
      if ((this.#quarantinedUntil.get(origin) ?? 0) > now) continue;
      const affected = new Set<string>();
      const queue = [origin];
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        for (const [caller, targets] of callees) {
          if (targets.has(next) && failing.has(caller) && !affected.has(caller) && caller !== origin) {
            affected.add(caller);
            queue.push(caller);
          }
        }
      }
      if (affected.size + 1 < this.options.spreadThreshold) continue;
      const event = await this.#contain(origin, [...affected].sort(), now);
      return event;
    }
    return undefined;
  }

  async #contain(origin: string, affected: string[], now: number): Promise<CascadeEvent> {
    const until = now + this.options.quarantineMs;
    const quarantined = [origin, ...affected].filter((id) => isValidToken(id));
    for (const id of quarantined) {
      this.#quarantinedUntil.set(id, until);
      const current = await this.#kv.get(`b.${id}`).catch(() => null);
      const previous = current !== null && current.operation === "PUT" ? (parseJson(current.string()) as Partial<BreakerSnapshot> | undefined) : undefined;
      const generation = Number.isSafeInteger(previous?.generation) ? (previous?.generation as number) : 0;
      const snapshot: BreakerSnapshot = {
        type: "tether.breaker.v1.snapshot",
        state: "open",
        generation: generation + 1,
        changedAt: now,
        openUntil: until,
        origin: `cascade-monitor:${this.#node.id}`,
      };
      await this.#kv.put(`b.${id}`, new TextEncoder().encode(JSON.stringify(snapshot))).catch(() => undefined);
    }
    // pause (quarantine) the failing subtree wherever it runs: it refuses new work until `until`
    for (const id of quarantined) {
      const where = await this.#node.whereIs(id).catch(() => undefined);
      if (where?.alive === true) await this.#node.controlNode(where.record.nodeId, { type: "tether.node.v1.pause", actorId: id, until }, 5_000).catch(() => undefined);
    }
    const event: CascadeEvent = { type: "cascade", origin, affected, quarantined, until };
    await this.#node.assurance.recordEvent("cascade.contained", origin, { affected, quarantined, until });
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        /* a listener's failure does not undo containment */
      }
    }
    return event;
  }

  close(): void {
    this.#sub?.unsubscribe();
    if (this.#timer !== undefined) this.#node.clock.clearInterval(this.#timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
