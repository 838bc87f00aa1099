import { hasCode, type EdgeReport } from "../protocols/index.ts";
import type { Node } from "../runtime/index.ts";
import { CascadeMonitorActor, type CascadeMonitorDeps, type CascadePort } from "./cascade-monitor-actor.ts";
import { CascadeMonitorOptions, type CascadeEvent, type CascadeMonitorOptionsInput, type CascadeMonitorOptionsResolved } from "./cascade-options.ts";
import { parseSupervisorOptions } from "./supervisor-errors.ts";

const cascadePort = (node: Node): CascadePort => ({
  nodeId: node.id,
  clock: node.clock,
  breakerBoard: () => node.breakerBoard(),
  watchEdges: (listener) => node.watchEdges(listener),
  tellSelf: (id, msg) => {
    try {
      node.ref(id).tell(msg);
    } catch {
      /* the node is closing */
    }
  },
  hosts: (id) => node.localActors().includes(id),
  whereIs: (id) => node.whereIs(id),
  controlNode: (nodeId, request, timeoutMs) => node.controlNode(nodeId, request, timeoutMs),
  recordEvent: (event, subject, details) => node.assurance.recordEvent(event, subject, details),
});

/**
 * Cascade detection and blast-radius containment. Every participating node records the outcome of
 * its asks (`CascadeMonitor.attach(node)`) and publishes per-edge counts each interval; the monitor
 * (`CascadeMonitor.start(node)`, one per network) is an actor (`CascadeMonitorActor`) that keeps a
 * sliding window of the who-calls-whom graph. When failing agents form a chain of at least
 * `spreadThreshold`, it names the origin and the affected callers, forces their shared circuit
 * breakers open across the cluster for `quarantineMs` (so callers using GuardedCalls fail fast or take
 * their fallbacks instead of hanging), pauses them wherever they run, emits a `cascade` event and
 * records `cascade.contained` in the audit ledger. Nodes that `register` it take it over when its
 * node dies, like any actor.
 */
export class CascadeMonitor implements AsyncDisposable {
  readonly options: CascadeMonitorOptionsResolved;
  readonly #node: Node;
  readonly #listeners: Set<(e: CascadeEvent) => void>;

  private constructor(node: Node, options: CascadeMonitorOptionsResolved, listeners: Set<(e: CascadeEvent) => void>) {
    this.#node = node;
    this.options = options;
    this.#listeners = listeners;
  }

  /**
   * Lets `node` host the monitor when the node running it dies (failover), and returns a handle whose
   * `onCascade` listeners hear the monitor's events while it runs here.
   */
  static register(node: Node, input: CascadeMonitorOptionsInput = {}): CascadeMonitor {
    const options = parseSupervisorOptions(CascadeMonitorOptions, input, "cascade monitor options");
    const listeners = new Set<(e: CascadeEvent) => void>();
    const deps: CascadeMonitorDeps = {
      port: cascadePort(node),
      options,
      emit: (event) => {
        for (const l of listeners) {
          try {
            l(event);
          } catch {
            /* a listener's failure does not undo containment */
          }
        }
      },
    };
    node.registerType(CascadeMonitorActor, { args: [deps] });
    return new CascadeMonitor(node, options, listeners);
  }

  /** Registers the monitor on `node` and starts it there, unless a live node runs it already. */
  static async start(node: Node, input: CascadeMonitorOptionsInput = {}): Promise<CascadeMonitor> {
    const monitor = CascadeMonitor.register(node, input);
    try {
      await node.controlNode(node.id, { type: "tether.node.v1.activate", actorId: monitor.options.id, className: CascadeMonitorActor.name });
    } catch (error) {
      if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error;
    }
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
      node.publishEdges(report);
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

  /** Judges the current window now, wherever the monitor runs; contains a cascade if one is found. */
  async evaluate(): Promise<CascadeEvent | undefined> {
    return (await this.#node.ref(this.options.id).ask({ type: "tether.cascade.v1.evaluate" }, { timeoutMs: 30_000 })) as CascadeEvent | undefined;
  }

  /** Stops the monitor if it runs on this node. */
  async close(): Promise<void> {
    if (this.#node.localActors().includes(this.options.id)) await this.#node.stopActor(this.options.id).catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
