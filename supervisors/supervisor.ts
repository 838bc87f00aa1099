import type { Subscription } from "@nats-io/transport-node";
import { FailureNotice, TetherError, decodeBody, hasCode, type RollbackReport } from "../protocols/index.ts";
import type { Node, NodeEvent, TimerHandle } from "../runtime/index.ts";
import { backoffDelay } from "./backoff.ts";
import { RestartIntensity } from "./restart-intensity.ts";
import { planRestart, type ExitReason } from "./restart-plan.ts";
import type { ChildSpec, SupervisorSpec } from "./supervisor-spec.ts";

/** What a supervisor reports (subscribe with `supervisor.onEvent`). */
export type SupervisorEvent =
  | { readonly type: "child-failed"; readonly supervisor: string; readonly child: string; readonly reason: ExitReason }
  | { readonly type: "children-restarted"; readonly supervisor: string; readonly children: readonly string[]; readonly delayMs: number }
  | { readonly type: "escalated"; readonly supervisor: string; readonly child: string }
  /** onFailure "rollback": the failed children's completed actions were compensated (or the rollback escalated). */
  | { readonly type: "rolled-back"; readonly supervisor: string; readonly children: readonly string[]; readonly reports: readonly RollbackReport[] }
  /** Operator-visible: a root supervisor exceeded its restart intensity and stopped its whole subtree. */
  | { readonly type: "gave-up"; readonly supervisor: string; readonly child: string };

export interface SupervisorOptions {
  /** How often remote children's hosts are checked for a lapsed lease. Default 1 s. */
  readonly watchMs?: number;
  /** Randomness for backoff jitter (inject a seeded one in tests). Default Math.random. */
  readonly random?: () => number;
  /** Set by a parent supervisor: where an exceeded intensity escalates to. */
  readonly escalate?: (childId: string) => void;
}

type Running = { readonly kind: "worker" } | { readonly kind: "remote"; readonly node: string } | { readonly kind: "supervisor"; readonly sup: Supervisor };

/**
 * Runs a supervision tree (`defineSupervisor`) on a node. Children start in order and stop in reverse,
 * each within its time limit. A child's failure reaches the supervisor as a message (the node's
 * `actor-failed` event), never as an exception; the supervisor plans the restart with its strategy
 * and restart types, waits the backoff, and restarts. Exceeding the restart intensity stops the
 * children and escalates to the parent; a root that gives up raises the `gave-up` event and records
 * `supervisor.gave_up` in the audit ledger.
 *
 * Children here run on the supervisor's node; a worker child's `start()` returns the actor instance.
 */
export class Supervisor implements AsyncDisposable {
  readonly spec: SupervisorSpec;
  readonly #node: Node;
  readonly #options: SupervisorOptions;
  readonly #intensity: RestartIntensity;
  readonly #running = new Map<string, Running>();
  /** When each worker child last started (seconds, like ECT iat): rollback undoes only this incarnation's actions. */
  readonly #startedAt = new Map<string, number>();
  readonly #listeners = new Set<(e: SupervisorEvent) => void>();
  #queue: Promise<void> = Promise.resolve();
  #restarts = 0;
  #stopped = false;
  #unsubscribe: (() => void) | undefined;
  #failureSub: Subscription | undefined;
  #watch: TimerHandle | undefined;
  readonly #down = new Set<string>();

  private constructor(node: Node, spec: SupervisorSpec, options: SupervisorOptions) {
    this.#node = node;
    this.spec = spec;
    this.#options = options;
    this.#intensity = new RestartIntensity(spec.intensity, node.clock);
  }

  /** Starts the tree: every child in order. If a child fails to start, the started ones stop again. */
  static async start(node: Node, spec: SupervisorSpec, options: SupervisorOptions = {}): Promise<Supervisor> {
    const sup = new Supervisor(node, spec, options);
    sup.#unsubscribe = node.onEvent((e) => sup.#onNodeEvent(e));
    // children on other nodes: their handler failures arrive as notices; their hosts' deaths are watched
    sup.#failureSub = node.nats.subscribe(node.subjects.failuresAll(), {
      callback: (_err, msg) => {
        try {
          const notice = FailureNotice.parse(decodeBody(msg.data));
          if (sup.#running.get(notice.actorId)?.kind === "remote") sup.#remoteFailed(notice.actorId);
        } catch {
          /* not a failure notice */
        }
      },
    });
    sup.#watch = node.clock.setInterval(() => void sup.#watchRemote(), options.watchMs ?? 1_000);
    sup.#watch.unref?.();
    try {
      for (const child of spec.children) await sup.#startChild(child);
    } catch (error) {
      await sup.stop();
      throw error;
    }
    return sup;
  }

  onEvent(listener: (e: SupervisorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ids of the children running now (workers and nested supervisors). */
  get children(): string[] {
    return [...this.#running.keys()];
  }

  /** Restarts performed so far. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The nested supervisor with this id, if running. */
  child(id: string): Supervisor | undefined {
    const r = this.#running.get(id);
    return r?.kind === "supervisor" ? r.sup : undefined;
  }

  #onNodeEvent(e: NodeEvent): void {
    if (this.#stopped || e.type !== "actor-failed") return;
    if (this.#running.get(e.actorId)?.kind !== "worker") return;
    this.#emitEvent({ type: "child-failed", supervisor: this.spec.id, child: e.actorId, reason: "error" });
    this.#enqueue(() => this.#handleExit(e.actorId, "error"));
  }

  #remoteFailed(childId: string): void {
    if (this.#stopped || this.#down.has(childId)) return;
    this.#down.add(childId);
    this.#emitEvent({ type: "child-failed", supervisor: this.spec.id, child: childId, reason: "error" });
    this.#enqueue(() => this.#handleExit(childId, "error"));
  }

  /** A remote child whose host's lease lapsed (or that vanished) counts as failed. */
  async #watchRemote(): Promise<void> {
    for (const [id, running] of [...this.#running]) {
      if (running.kind !== "remote" || this.#down.has(id) || this.#stopped) continue;
      const where = await this.#node.whereIs(id).catch(() => undefined);
      if (where === undefined || !where.alive) this.#remoteFailed(id);
    }
  }

  /** A nested supervisor gave up: to us, that child failed. */
  #childEscalated(childId: string): void {
    if (this.#stopped) return;
    this.#running.delete(childId);
    this.#emitEvent({ type: "child-failed", supervisor: this.spec.id, child: childId, reason: "error" });
    this.#enqueue(() => this.#handleExit(childId, "error"));
  }

  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(work).catch((error: unknown) => {
      this.#node.assurance.recordEvent("supervisor.error", this.spec.id, { message: String(error) }).catch(() => undefined);
    });
  }

  async #handleExit(childId: string, reason: ExitReason): Promise<void> {
    if (this.#stopped) return;
    const plan = planRestart(this.spec, childId, reason);
    if (plan.restart.length === 0 && plan.stop.length === 0) return;
    if (this.spec.onFailure === "rollback") await this.#rollBack(plan.stopOrder);
    if (this.#intensity.record() === "exceeded") {
      await this.#stopChildren();
      if (this.#options.escalate !== undefined) {
        this.#emitEvent({ type: "escalated", supervisor: this.spec.id, child: childId });
        this.#stopped = true;
        this.#unsubscribe?.();
        this.#failureSub?.unsubscribe();
        if (this.#watch !== undefined) this.#node.clock.clearInterval(this.#watch);
        this.#options.escalate(this.spec.id);
      } else {
        this.#emitEvent({ type: "gave-up", supervisor: this.spec.id, child: childId });
        await this.#node.assurance.recordEvent("supervisor.gave_up", this.spec.id, { child: childId, restarts: this.#restarts });
        this.#stopped = true;
        this.#unsubscribe?.();
        this.#failureSub?.unsubscribe();
        if (this.#watch !== undefined) this.#node.clock.clearInterval(this.#watch);
      }
      return;
    }
    const delayMs = backoffDelay(this.spec.backoff, Math.max(0, this.#intensity.count - 1), this.#options.random ?? Math.random);
    try {
      for (const id of plan.stopOrder) await this.#stopChild(id);
      if (delayMs > 0) await new Promise<void>((resolve) => this.#node.clock.setTimeout(resolve, delayMs));
      if (this.#stopped) return;
      for (const id of plan.restart) {
        const child = this.spec.children.find((c) => c.id === id);
        if (child !== undefined) await this.#startChild(child);
      }
    } catch (error) {
      // a restart that fails is another failure of the child: it counts against the intensity, so
      // repeated failures escalate or give up instead of leaving the child silently down
      await this.#node.assurance.recordEvent("supervisor.restart_failed", this.spec.id, { child: childId, error: String(error) }).catch(() => undefined);
      this.#emitEvent({ type: "child-failed", supervisor: this.spec.id, child: childId, reason: "error" });
      this.#enqueue(() => this.#handleExit(childId, "error"));
      return;
    }
    this.#restarts++;
    this.#emitEvent({ type: "children-restarted", supervisor: this.spec.id, children: plan.restart, delayMs });
  }

  /**
   * Compensates what the affected children did since they last started: each of their compensable
   * actions, and everything those actions caused, across agents and nodes (node.rollback). A rollback
   * that escalates is reported, and the restart goes on.
   */
  async #rollBack(children: readonly string[]): Promise<void> {
    const reports: RollbackReport[] = [];
    for (const child of children) {
      const since = this.#startedAt.get(child) ?? 0;
      const actions = (await this.#node.assurance.store.listCompensableBy(child))
        .filter((r) => r.iat >= since && r.outcome === "ok" && r.wid !== undefined)
        .reverse(); // newest first
      for (const action of actions) {
        try {
          reports.push(await this.#node.rollback({ workflow: action.wid as string, from: action.jti }));
        } catch (error) {
          await this.#node.assurance.recordEvent("supervisor.rollback_failed", this.spec.id, { child, jti: action.jti, error: String(error) }).catch(() => undefined);
        }
      }
    }
    if (reports.length > 0) this.#emitEvent({ type: "rolled-back", supervisor: this.spec.id, children, reports });
  }

  async #startChild(child: ChildSpec): Promise<void> {
    if (child.kind === "supervisor") {
      const sup = await withLimit(
        Supervisor.start(this.#node, child, { ...this.#options, escalate: (id) => this.#childEscalated(id) }),
        child.startMs,
        this.#node,
        `supervisor ${child.id} did not start within ${child.startMs} ms`,
      );
      this.#running.set(child.id, { kind: "supervisor", sup });
      return;
    }
    let instance: unknown;
    try {
      instance = child.start();
    } catch (cause) {
      throw new TetherError("ERR_ACTOR_START_FAILED", `child ${child.id} of ${this.spec.id}: start() threw: ${String(cause)}`, { cause });
    }
    if (typeof instance !== "object" || instance === null) {
      throw new TetherError("ERR_SUPERVISOR_SPEC_INVALID", `child ${child.id} of ${this.spec.id}: start() must return an actor instance`);
    }
    this.#down.delete(child.id);
    const placement = child.node;
    if (placement !== undefined && placement !== this.#node.id) {
      // placed on another node, which builds it from its registered type (registerType) with fresh state;
      // if that node does not answer (gone), the child starts here instead
      const className = (instance as { constructor: { name: string } }).constructor.name;
      try {
        await this.#node.controlNode(placement, { type: "tether.node.v1.activate", actorId: child.id, className, fresh: true }, child.startMs);
        this.#running.set(child.id, { kind: "remote", node: placement });
        this.#startedAt.set(child.id, Math.floor(this.#node.clock.now() / 1000));
        return;
      } catch (error) {
        if (!hasCode(error, "ERR_NODE_UNREACHABLE")) throw error; // the node answered and refused: a real error
      }
    }
    await withLimit(this.#node.spawnInstance(child.id, instance), child.startMs, this.#node, `child ${child.id} did not start within ${child.startMs} ms`);
    this.#running.set(child.id, { kind: "worker" });
    this.#startedAt.set(child.id, Math.floor(this.#node.clock.now() / 1000));
  }

  async #stopChild(id: string): Promise<void> {
    const running = this.#running.get(id);
    if (running === undefined) return;
    this.#running.delete(id);
    const child = this.spec.children.find((c) => c.id === id);
    const limit = child?.shutdownMs ?? 5_000;
    if (running.kind === "supervisor") {
      await running.sup.stop();
      return;
    }
    if (running.kind === "remote") {
      const where = await this.#node.whereIs(id).catch(() => undefined);
      // a dead host's claim is stale: the next start takes it over; a live one stops its copy
      if (where?.alive === true) await this.#node.controlNode(where.record.nodeId, { type: "tether.node.v1.stop", actorId: id }, limit + 1_000).catch(() => undefined);
      return;
    }
    await withLimit(this.#node.stopActor(id), limit, this.#node, `child ${id} did not stop within ${limit} ms`).catch((error: unknown) => {
      if (!hasCode(error, "ERR_ACTOR_NOT_FOUND")) throw error;
    });
  }

  async #stopChildren(): Promise<void> {
    for (const child of [...this.spec.children].reverse()) await this.#stopChild(child.id);
  }

  /** Stops every child in reverse start order. Safe to call twice. */
  async stop(): Promise<void> {
    const wasStopped = this.#stopped;
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#failureSub?.unsubscribe();
    if (this.#watch !== undefined) this.#node.clock.clearInterval(this.#watch);
    if (!wasStopped) await this.#queue;
    await this.#stopChildren();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #emitEvent(e: SupervisorEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        /* a listener's failure is not the tree's */
      }
    }
  }
}

const withLimit = <T>(promise: Promise<T>, ms: number, node: Node, message: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const code = message.includes("start") ? "ERR_ACTOR_START_FAILED" : "ERR_SHUTDOWN_TIMEOUT";
    const timer = node.clock.setTimeout(() => reject(new TetherError(code, message)), ms);
    promise.then(
      (v) => {
        node.clock.clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        node.clock.clearTimeout(timer);
        reject(e);
      },
    );
  });
