import {
  CascadeMonitorMessage,
  isValidToken,
  type ActorRecord,
  type BreakerSnapshot,
  type CascadeMonitorState,
  type EdgeReport,
  type PauseRequest,
} from "../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, BreakerBoard, Clock, TimerHandle } from "../runtime/index.ts";
import type { CascadeEvent, CascadeMonitorOptionsResolved } from "./cascade-options.ts";

/** What the cascade monitor needs from the node hosting it now (built from the node's public API). */
export interface CascadePort {
  readonly nodeId: string;
  readonly clock: Clock;
  breakerBoard(): Promise<BreakerBoard>;
  watchEdges(listener: (report: EdgeReport) => void): () => void;
  tellSelf(id: string, msg: CascadeMonitorMessage): void;
  /** Whether this node hosts the actor now (a fenced copy gets no onStop: it stops relaying on its own). */
  hosts(id: string): boolean;
  whereIs(id: string): Promise<{ record: ActorRecord; alive: boolean } | undefined>;
  controlNode(nodeId: string, request: PauseRequest, timeoutMs: number): Promise<void>;
  recordEvent(event: string, subject: string, details: Record<string, unknown>): Promise<unknown>;
}

export interface CascadeMonitorDeps {
  readonly port: CascadePort;
  readonly options: CascadeMonitorOptionsResolved;
  /** Listeners of the node this copy runs on (the `CascadeMonitor` handle's). */
  emit(event: CascadeEvent): void;
}

/**
 * Cascade detection as an actor (one per network, typically `cascade-monitor`): it keeps a sliding
 * window of the who-calls-whom graph from every node's edge reports (relayed into its own mailbox),
 * judges it every interval, and contains a cascade. Its quarantines are checkpointed, so a monitor
 * that fails over to a survivor (which registered the type: `CascadeMonitor.register`) neither forgets
 * them nor contains the same cascade twice. The window itself refills within `windowMs`.
 */
export class CascadeMonitorActor {
  static readonly protocol = CascadeMonitorMessage;
  static readonly capabilities: readonly string[] = ["cascade-monitor"];
  state: CascadeMonitorState = { type: "tether.cascade.v1.state", quarantinedUntil: {} };
  readonly #deps: CascadeMonitorDeps;
  /** [at, caller, target, calls, failures] */
  #samples: [number, string, string, number, number][] = [];
  #stopWatching: (() => void) | undefined;
  #timer: TimerHandle | undefined;

  constructor(deps: CascadeMonitorDeps) {
    this.#deps = deps;
  }

  onStart(ctx: ActorLifecycleContext): void {
    const { port, options } = this.#deps;
    const relay = (msg: CascadeMonitorMessage) => {
      if (port.hosts(ctx.self)) port.tellSelf(ctx.self, msg);
      else this.onStop(); // moved or fenced: the new owner relays
    };
    this.#stopWatching = port.watchEdges(relay);
    this.#timer = port.clock.setInterval(() => relay({ type: "tether.cascade.v1.evaluate" }), options.intervalMs);
    this.#timer.unref?.();
  }

  onStop(): void {
    this.#stopWatching?.();
    if (this.#timer !== undefined) this.#deps.port.clock.clearInterval(this.#timer);
  }

  async handle(msg: CascadeMonitorMessage, ctx: ActorContext): Promise<CascadeEvent | undefined> {
    switch (msg.type) {
      case "tether.cascade.v1.edges": {
        const at = this.#deps.port.clock.now();
        for (const [caller, target, calls, failures] of msg.edges) this.#samples.push([at, caller, target, calls, failures]);
        return undefined;
      }
      case "tether.cascade.v1.evaluate":
        return this.#evaluate(ctx);
    }
  }

  /** Judges the current window; contains a cascade if one is found. */
  async #evaluate(ctx: ActorContext): Promise<CascadeEvent | undefined> {
    const options = this.#deps.options;
    const now = this.#deps.port.clock.now();
    this.#samples = this.#samples.filter((s) => now - s[0] <= options.windowMs);
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
    const failing = new Set([...totals].filter(([, t]) => t.calls >= options.minimumCalls && t.failures / t.calls >= options.failureRateThreshold).map(([id]) => id));
    // an origin fails while nothing it calls is failing; affected agents are failing callers upstream of it
    for (const origin of failing) {
      if ([...(callees.get(origin) ?? [])].some((c) => failing.has(c))) continue;
      if ((this.state.quarantinedUntil[origin] ?? 0) > now) continue;
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
      if (affected.size + 1 < options.spreadThreshold) continue;
      return this.#contain(origin, [...affected].sort(), now, ctx);
    }
    return undefined;
  }

  async #contain(origin: string, affected: string[], now: number, ctx: ActorContext): Promise<CascadeEvent> {
    const { port, options } = this.#deps;
    const until = now + options.quarantineMs;
    const quarantined = [origin, ...affected].filter((id) => isValidToken(id));
    for (const [id, end] of Object.entries(this.state.quarantinedUntil)) if (end <= now) delete this.state.quarantinedUntil[id];
    for (const id of quarantined) this.state.quarantinedUntil[id] = until;
    await ctx.checkpoint().catch(() => undefined); // a copy that fails over remembers what it quarantined
    const board = await port.breakerBoard();
    for (const id of quarantined) {
      const previous = await board.get(id);
      const snapshot: BreakerSnapshot = {
        type: "tether.breaker.v1.snapshot",
        state: "open",
        generation: (previous?.generation ?? 0) + 1,
        changedAt: now,
        openUntil: until,
        origin: `cascade-monitor:${port.nodeId}`,
      };
      await board.put(id, snapshot).catch(() => undefined);
    }
    // pause (quarantine) the failing subtree wherever it runs: it refuses new work until `until`
    for (const id of quarantined) {
      const where = await port.whereIs(id).catch(() => undefined);
      if (where?.alive === true) await port.controlNode(where.record.nodeId, { type: "tether.node.v1.pause", actorId: id, until }, 5_000).catch(() => undefined);
    }
    const event: CascadeEvent = { type: "cascade", origin, affected, quarantined, until };
    await port.recordEvent("cascade.contained", origin, { affected, quarantined, until }).catch(() => undefined);
    this.#deps.emit(event);
    return event;
  }
}
