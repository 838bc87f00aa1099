import { randomUUID } from "node:crypto";
import { MemoryReplayCache, SupervisorCheckpoint, SupervisorMessage, TetherError, hasCode, isTetherError, type SupervisorStatus } from "../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, TimerHandle } from "../runtime/index.ts";
import { backoffDelay } from "./backoff.ts";
import { confirmEscalated } from "./escalation-check.ts";
import { ChildPlacement } from "./child-placement.ts";
import { rollBackChildren } from "./child-rollback.ts";
import { RestartIntensity } from "./restart-intensity.ts";
import { planRestart } from "./restart-plan.ts";
import { supervisorError } from "./supervisor-errors.ts";
import type { SupervisorEvent } from "./supervisor-events.ts";
import type { ChildSpec, SupervisorSpec } from "./supervisor-spec.ts";
import type { ResolvedSupervisor, SupervisorActorDeps } from "./supervisor-deps.ts";
import type { SupervisionPort } from "./supervision-port.ts";

const initialState = (): SupervisorCheckpoint => ({ type: "tether.supervisor.v1.state", phase: "new", children: {}, restartTimes: [], restarts: 0 });

/**
 * A supervisor as an actor: its id is its spec's id, its checkpointed state (`SupervisorCheckpoint`)
 * is its phase, its children and the node each runs on, and its restart history. Like any actor it
 * is re-activated from that checkpoint on a survivor when its node dies, provided the survivor
 * registered the `SupervisorActor` type and the tree (`SupervisionHost`). Back up, it re-attaches:
 * children alive elsewhere are kept, children that died with the node are restarted per the strategy.
 *
 * Child failures arrive as messages: the node's failure notices (`watchFailures`) are relayed to the
 * actor's own mailbox, and a timer sends `reconcile` to find children whose node died. One message at a
 * time, so restarts never interleave. Children start in order and stop in reverse, each within its limit.
 */
export class SupervisorActor {
  static readonly protocol = SupervisorMessage;
  static readonly capabilities: readonly string[] = ["supervisor"];
  state: SupervisorCheckpoint = initialState();
  readonly #deps: SupervisorActorDeps;
  #id = "";
  #resolved: ResolvedSupervisor | undefined;
  #intensity: RestartIntensity | undefined;
  #stopWatching: (() => void) | undefined;
  #timer: TimerHandle | undefined;
  #reconcileQueued = false;
  #tookOver = false;
  /** Another copy took this supervisor over (this one's checkpoint was refused): it must not act any more. */
  #fenced = false;

  readonly #placement: ChildPlacement;
  /** Secret of this running copy, carried by the messages it sends itself (failure relays, reconcile ticks). */
  readonly #key = randomUUID();
  /** Shutdown requests are signed; each is accepted once. */
  readonly #replay = new MemoryReplayCache({ now: () => this.#deps.port.clock.now() });

  constructor(deps: SupervisorActorDeps) {
    this.#deps = deps;
    this.#placement = new ChildPlacement(deps.port, () => this.#id, {
      className: SupervisorActor.name,
      spawn: async (id) => {
        await deps.port.spawn(id, SupervisorActor, [deps]);
      },
    });
  }

  /** Ids of the children running now. */
  get children(): string[] {
    return Object.keys(this.state.children);
  }

  onStart(ctx: ActorLifecycleContext): void {
    const port = this.#deps.port;
    this.#id = ctx.self;
    const resolved = this.#deps.resolve(ctx.self);
    if (resolved === undefined) {
      throw supervisorError("ERR_SUPERVISOR_SPEC_UNKNOWN", `node ${port.nodeId} has no supervision tree with a supervisor ${JSON.stringify(ctx.self)}`, {
        details: { supervisor: ctx.self, node: port.nodeId },
      });
    }
    this.#resolved = resolved;
    if (this.state.phase !== "new") {
      // restored from a checkpoint (failover or migration). A checkpoint this version cannot read is
      // replaced: the supervisor then finds its children again by id (alive ones are kept).
      const parsed = SupervisorCheckpoint.safeParse(this.state);
      this.state = parsed.success ? { ...parsed.data, children: { ...parsed.data.children } } : { ...initialState(), phase: "starting" };
      this.#tookOver = true;
    }
    this.#intensity = new RestartIntensity(resolved.spec.intensity, port.clock);
    this.#intensity.restore(this.state.restartTimes);
    this.#stopWatching = port.watchFailures(
      resolved.spec.children.map((c) => c.id),
      (notice) => this.#tellSelf({ type: "tether.supervisor.v1.child_failed", child: notice.actorId, nodeId: notice.nodeId, code: notice.code, key: this.#key }),
    );
    this.#timer = port.clock.setInterval(() => this.#queueReconcile(), resolved.watchMs);
    this.#timer.unref?.();
    this.#deps.attached(this.#id, this);
    if (this.#tookOver) this.#queueReconcile();
  }

  onStop(): void {
    this.#detach();
  }

  #detach(): void {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    if (this.#timer !== undefined) this.#deps.port.clock.clearInterval(this.#timer);
    this.#timer = undefined;
    this.#deps.attached(this.#id, undefined);
  }

  async handle(msg: SupervisorMessage, ctx: ActorContext): Promise<SupervisorStatus | undefined> {
    if (this.#fenced) return this.#status(new TetherError("ERR_ACTOR_FENCED", `supervisor ${this.#id} was taken over by another node`));
    try {
      switch (msg.type) {
        case "tether.supervisor.v1.start":
          await this.#start(ctx);
          return this.#status();
        case "tether.supervisor.v1.child_failed": {
          if (msg.key !== this.#key) return undefined; // not from its own failure feed: ignored, not thrown (a throw is a failure of this supervisor)
          const running = this.state.children[msg.child];
          // a notice from a copy we no longer track (restarted since, or moved) is stale
          if (this.state.phase !== "running" || running === undefined || running.node !== msg.nodeId) return undefined;
          this.#emit({ type: "child-failed", supervisor: this.#id, child: msg.child, reason: "error" });
          await this.#handleExits([msg.child], ctx);
          return undefined;
        }
        case "tether.supervisor.v1.child_escalated":
          if (this.state.phase !== "running" || this.state.children[msg.child] === undefined) return undefined;
          if (!(await confirmEscalated(this.#deps.port, msg.child))) return undefined;
          this.#emit({ type: "child-failed", supervisor: this.#id, child: msg.child, reason: "error" });
          await this.#handleExits([msg.child], ctx);
          return undefined;
        case "tether.supervisor.v1.reconcile":
          if (msg.key !== this.#key) return undefined;
          this.#reconcileQueued = false;
          await this.#reconcile(ctx);
          return undefined;
        case "tether.supervisor.v1.shutdown":
          await this.#deps.port.verifyShutdown(msg.envelope, this.#id, this.#replay); // a refusal is answered as the status's error
          await this.#stopChildren();
          if (this.state.phase !== "new") this.state.phase = "stopped";
          await this.#save(ctx);
          return this.#status();
        case "tether.supervisor.v1.status":
          return this.#status();
      }
    } catch (error) {
      if (this.#fenced) return this.#status(error);
      // never a handler failure: that would be this supervisor's own crash, reported to its parent
      await this.#deps.port.recordEvent("supervisor.error", this.#id, { message: String(error) }).catch(() => undefined);
      return this.#status(error);
    }
  }

  get #spec(): SupervisorSpec {
    return (this.#resolved as ResolvedSupervisor).spec;
  }

  #status(error?: unknown): SupervisorStatus {
    const status: SupervisorStatus = {
      supervisor: this.#id,
      nodeId: this.#deps.port.nodeId,
      phase: this.state.phase,
      children: this.children,
      restarts: this.state.restarts,
    };
    if (error === undefined) return status;
    const code = isTetherError(error) ? error.code : "ERR_ACTOR_START_FAILED";
    return { ...status, error: { code, message: (error instanceof Error ? error.message : String(error)).slice(0, 4096) } };
  }

  #tellSelf(msg: SupervisorMessage): void {
    if (!this.#deps.port.hosts(this.#id)) {
      // a copy fenced by the node (taken over elsewhere) gets no onStop: stop relaying, or the new
      // owner would get every failure notice twice
      this.#detach();
      return;
    }
    try {
      this.#deps.port.ref(this.#id).tell(msg);
    } catch {
      /* stopping, or the mailbox is full: the next reconcile finds what this would have reported */
    }
  }

  #queueReconcile(): void {
    if (this.#reconcileQueued) return;
    this.#reconcileQueued = true;
    this.#tellSelf({ type: "tether.supervisor.v1.reconcile", key: this.#key });
  }

  #emit(event: SupervisorEvent): void {
    this.#deps.emit(event);
  }

  /** First start: every child in order. If one fails to start, the started ones stop again. */
  async #start(ctx: ActorContext): Promise<void> {
    if (this.state.phase !== "new") return; // started already (or restored): nothing to do
    this.state.phase = "starting";
    await this.#save(ctx);
    try {
      for (const child of this.#spec.children) {
        await this.#startChild(child);
        await this.#save(ctx); // a survivor taking over mid-start knows which children exist
      }
    } catch (error) {
      await this.#stopChildren();
      this.state.phase = "stopped";
      await this.#save(ctx).catch(() => undefined);
      throw error;
    }
    this.state.phase = "running";
    await this.#save(ctx);
  }

  /**
   * Finds where every child runs. Alive (here or on another node, also after the runtime failed it over):
   * kept. Gone (its node died, or it vanished): failed, restarted per the strategy; all children lost at
   * once (the loss of a node) count as one restart against the intensity. Runs on a timer and once after
   * a takeover; a takeover during the first start also starts the children not started yet.
   */
  async #reconcile(ctx: ActorContext): Promise<void> {
    const phase = this.state.phase;
    if (phase === "gave_up") {
      this.#stopSelf(); // a root that gave up and died before it stopped itself
      return;
    }
    const parent = (this.#resolved as ResolvedSupervisor).parent;
    if (phase === "escalated" && this.#tookOver && parent !== undefined) {
      // escalated just before its node died: the parent may not have heard (it ignores a repeat)
      this.#tookOver = false;
      this.#tellParent(parent);
      return;
    }
    if (phase !== "running" && phase !== "starting") return;
    const port = this.#deps.port;
    const failed: string[] = [];
    const kept: string[] = [];
    const lost: string[] = [];
    let changed = false;
    for (const child of this.#spec.children) {
      const running = this.state.children[child.id];
      if (running === undefined) {
        if (phase === "starting") {
          await this.#startChild(child);
          changed = true;
        }
        continue;
      }
      let where: Awaited<ReturnType<SupervisionPort["whereIs"]>>;
      try {
        where = await port.whereIs(child.id);
      } catch {
        continue; // the registry did not answer: look again next time
      }
      if (where?.alive === true) {
        kept.push(child.id);
        if (where.record.nodeId !== running.node) {
          this.state.children[child.id] = { ...running, node: where.record.nodeId };
          changed = true;
        }
        continue;
      }
      lost.push(child.id);
      if (child.restart === "temporary") {
        delete this.state.children[child.id]; // never restarted
        changed = true;
      } else failed.push(child.id);
    }
    if (phase === "starting") {
      this.state.phase = "running";
      changed = true;
    }
    if (this.#tookOver) {
      this.#tookOver = false;
      this.#emit({ type: "took-over", supervisor: this.#id, kept, lost });
      await port.recordEvent("supervisor.took_over", this.#id, { node: port.nodeId, kept, lost }).catch(() => undefined);
    }
    if (changed) await this.#save(ctx);
    if (failed.length === 0) return;
    for (const id of failed) this.#emit({ type: "child-failed", supervisor: this.#id, child: id, reason: "error" });
    await this.#handleExits(failed, ctx);
  }

  async #handleExits(failed: readonly string[], ctx: ActorContext): Promise<void> {
    const spec = this.#spec;
    const plans = failed.map((id) => planRestart(spec, id, "error"));
    const restart = new Set(plans.flatMap((p) => p.restart));
    const stop = new Set(plans.flatMap((p) => p.stop));
    if (restart.size === 0 && stop.size === 0) return;
    const affected = spec.children.filter((c) => restart.has(c.id) || stop.has(c.id));
    const stopOrder = affected.map((c) => c.id).reverse();
    const intensity = this.#intensity as RestartIntensity;
    if (spec.onFailure === "rollback") await this.#rollBack(stopOrder);
    const verdict = intensity.record();
    this.state.restartTimes = [...intensity.times];
    if (verdict === "exceeded") {
      await this.#escalate(failed[0] as string, ctx);
      return;
    }
    const resolved = this.#resolved as ResolvedSupervisor;
    const delayMs = backoffDelay(spec.backoff, Math.max(0, intensity.count - 1), resolved.random);
    try {
      for (const id of stopOrder) await this.#stopChild(id);
      await this.#save(ctx);
      if (delayMs > 0) await new Promise<void>((resolve) => this.#deps.port.clock.setTimeout(resolve, delayMs));
      const restarted = affected.filter((c) => restart.has(c.id));
      await this.#deps.port.traced("supervisor restart", { "tether.supervisor.id": this.#id, "tether.supervisor.children": restarted.map((c) => c.id).join(","), "tether.supervisor.delay_ms": delayMs }, async () => {
        for (const child of restarted) {
          await this.#startChild(child);
          await this.#save(ctx);
        }
      });
    } catch (error) {
      if (this.#fenced) throw error; // taken over meanwhile: the new owner carries on
      // a restart that fails is another failure of the child: it counts against the intensity, so
      // repeated failures escalate or give up instead of leaving the child silently down
      await this.#deps.port.recordEvent("supervisor.restart_failed", this.#id, { child: failed[0] ?? "", error: String(error) }).catch(() => undefined);
      this.#emit({ type: "child-failed", supervisor: this.#id, child: failed[0] as string, reason: "error" });
      await this.#handleExits(failed, ctx);
      return;
    }
    this.state.restarts++;
    this.#deps.port.metrics.actorRestarts(this.#id, affected.filter((c) => restart.has(c.id)).length);
    await this.#save(ctx);
    this.#emit({ type: "children-restarted", supervisor: this.#id, children: affected.filter((c) => restart.has(c.id)).map((c) => c.id), delayMs });
  }

  /** Checkpoints; a refused checkpoint means another copy took over, and this one stops acting. */
  async #save(ctx: ActorContext): Promise<void> {
    try {
      await ctx.checkpoint();
    } catch (error) {
      if (hasCode(error, "ERR_ACTOR_FENCED")) {
        this.#fenced = true;
        this.#detach();
      }
      throw error;
    }
  }

  /** Past the restart intensity: stop every child, then escalate to the parent or (a root) give up. */
  async #escalate(childId: string, ctx: ActorContext): Promise<void> {
    await this.#stopChildren();
    const parent = (this.#resolved as ResolvedSupervisor).parent;
    if (parent !== undefined) {
      this.state.phase = "escalated";
      await this.#save(ctx);
      this.#emit({ type: "escalated", supervisor: this.#id, child: childId });
      this.#tellParent(parent); // the parent stops this supervisor as part of restarting it
      return;
    }
    this.state.phase = "gave_up";
    await this.#save(ctx);
    this.#emit({ type: "gave-up", supervisor: this.#id, child: childId });
    await this.#deps.port.recordEvent("supervisor.gave_up", this.#id, { child: childId, restarts: this.state.restarts }).catch(() => undefined);
    this.#stopSelf();
  }

  #tellParent(parent: string): void {
    try {
      this.#deps.port.ref(parent).tell({ type: "tether.supervisor.v1.child_escalated", child: this.#id });
    } catch {
      /* the parent is failing over: this supervisor tells it again once either is taken over */
    }
  }

  /** Stops this actor once the current message is handled (a root that gave up frees its id). */
  #stopSelf(): void {
    this.#deps.port.stopActor(this.#id).catch(() => undefined);
  }

  /** Compensates what the affected children did since they last started (`child-rollback.ts`). */
  async #rollBack(children: readonly string[]): Promise<void> {
    const reports = await rollBackChildren(this.#deps.port, this.#id, children, (child) => this.state.children[child]?.startedAt ?? 0);
    if (reports.length > 0) this.#emit({ type: "rolled-back", supervisor: this.#id, children, reports });
  }

  async #startChild(child: ChildSpec): Promise<void> {
    this.state.children[child.id] = await this.#placement.start(child);
  }

  async #stopChild(id: string): Promise<void> {
    const running = this.state.children[id];
    if (running === undefined) return;
    delete this.state.children[id];
    await this.#placement.stop(id, running.kind, this.#spec.children.find((c) => c.id === id)?.shutdownMs ?? 5_000);
  }

  async #stopChildren(): Promise<void> {
    for (const child of [...this.#spec.children].reverse()) {
      await this.#stopChild(child.id).catch((error: unknown) =>
        this.#deps.port.recordEvent("supervisor.stop_failed", this.#id, { child: child.id, error: String(error) }).catch(() => undefined),
      );
    }
  }
}
