import type { Subscription } from "@nats-io/transport-node";
import { TetherError, advertisementOf, isTetherError, withAdvertised, type ErrorCode } from "../../protocols/index.ts";
import { ActorCell, type Delivery } from "../actor/actor-cell.ts";
import type { ActorClass, ActorInstance, ActorLifecycleContext } from "../actor/actor-types.ts";
import { Mailbox } from "../actor/mailbox.ts";
import type { DeadLetterSink } from "../messaging/dead-letter-sink.ts";
import type { Inbound } from "../messaging/inbound.ts";
import type { NodeCore } from "../node-core.ts";
import { resolveSpawnOptions, type SpawnOptions } from "../node-options.ts";
import type { Registry } from "../stores/registry.ts";
import { withTimeout } from "../support/clock.ts";
import type { CellDirectory } from "./cell-directory.ts";
import type { CellRuntime } from "./cell-runtime.ts";
import type { Checkpoints } from "./checkpoints.ts";
import type { DurableDelivery } from "./durable-delivery.ts";
import type { Passivation } from "./passivation.ts";
import { validateActorClass } from "./registered-types.ts";

/** Checks that an agent (id, class name, capabilities) may join the network; throws a typed refusal. */
export type Admit = (actorId: string, agentType: string, capabilities: readonly string[]) => void;

/** How a local actor leaves this node. */
type Release =
  /** stopped here (stop, close): onStop runs, its id is given back */
  | { readonly kind: "stop" }
  /** moving to another node: like stop, with a checkpoint after it drained */
  | { readonly kind: "move" }
  /** another node owns it now: no onStop, no release (the claim is someone else's) */
  | { readonly kind: "fence"; readonly reason: string };

/**
 * The actors this node hosts: spawning (claim, restore, subscribe, onStart, durable lane), pausing,
 * and one release path for every way an actor leaves (stop, move, fence), so nothing is torn down twice
 * or forgotten.
 */
export class ActorHost {
  readonly #core: NodeCore;
  readonly #directory: CellDirectory;
  readonly #registry: Registry;
  readonly #checkpoints: Checkpoints;
  readonly #durable: DurableDelivery;
  readonly #passivation: Passivation;
  readonly #inbound: Inbound;
  readonly #runtime: CellRuntime;
  readonly #sink: DeadLetterSink;
  readonly #epoch: () => number;
  readonly #admit: Admit | undefined;
  readonly #subs = new Map<string, Subscription>();
  /** Fencing at activation: the override gate applies the active overrides before the first message. */
  onActivate: ((cell: ActorCell) => void) | undefined;

  constructor(p: {
    core: NodeCore;
    directory: CellDirectory;
    registry: Registry;
    checkpoints: Checkpoints;
    durable: DurableDelivery;
    passivation: Passivation;
    inbound: Inbound;
    runtime: CellRuntime;
    sink: DeadLetterSink;
    epoch: () => number;
    /** The network policy's say on who may join (throws a typed refusal); absent: everyone may. */
    admit?: Admit;
  }) {
    this.#core = p.core;
    this.#directory = p.directory;
    this.#registry = p.registry;
    this.#checkpoints = p.checkpoints;
    this.#durable = p.durable;
    this.#passivation = p.passivation;
    this.#inbound = p.inbound;
    this.#runtime = p.runtime;
    this.#sink = p.sink;
    this.#epoch = p.epoch;
    this.#admit = p.admit;
  }

  /**
   * Starts an actor with this id here. The id is claimed in the registry first: if a live node owns it
   * (here or elsewhere), this throws ERR_ACTOR_ALREADY_ACTIVE and nothing starts.
   */
  async spawn(id: string, actorClass: ActorClass, make: () => ActorInstance, input: SpawnOptions<ActorClass>): Promise<void> {
    const core = this.#core;
    core.assertRunning();
    validateActorClass(actorClass);
    const options = resolveSpawnOptions(input);
    const directory = this.#directory;
    if (directory.cells.has(id) || directory.starting.has(id)) {
      throw new TetherError("ERR_ACTOR_ALREADY_ACTIVE", `actor ${id} is already active on this node (${core.id})`, { details: { actorId: id, owner: core.id } });
    }
    const advertise = advertisementOf(options.advertise ?? actorClass.advertise);
    const capabilities = withAdvertised([...(options.capabilities ?? actorClass.capabilities ?? [])], advertise);
    this.#admit?.(id, actorClass.name, capabilities);
    const capacity = options.mailboxCapacity ?? core.options.mailboxCapacity;
    directory.starting.add(id);
    try {
      let instance: ActorInstance;
      try {
        instance = make();
      } catch (cause) {
        throw new TetherError("ERR_ACTOR_START_FAILED", `constructing ${actorClass.name} for ${id} failed: ${String(cause)}`, { cause });
      }
      const claim = await this.#registry.claim({
        type: "tether.registry.v1.actor",
        actorId: id,
        nodeId: core.id,
        nodeEpoch: this.#epoch(),
        className: actorClass.name,
        capabilities,
        ...(advertise === undefined ? {} : { advertise }),
        spawnedAt: core.clock.now(),
      });
      // From here on the id is ours: any failure gives back everything taken (claim, subscription,
      // consumer, timers), so a failed spawn never leaves an id claimed by nobody or a half-started actor.
      const cell = new ActorCell(id, actorClass, instance, new Mailbox<Delivery>({ capacity, priorityCapacity: core.options.priorityCapacity }), this.#runtime);
      try {
        if (options.restore || options.durable) await this.#checkpoints.takeOver(id, instance);
        else await this.#checkpoints.adopt(id);
        core.assertRunning(); // the node may have begun closing meanwhile
        directory.cells.set(id, cell);
        directory.claims.set(id, claim);
        directory.spawnOptions.set(id, input);
        // One subscription per actor, by decision (issue #7 §2): the server routing on each actor's own
        // subject IS the location transparency; an address never names its host. The alternatives fail:
        // a wildcard `tether.<net>.actor.*` per node delivers every message to every node; a queue group
        // delivers it to an arbitrary node, not the owner; per-node subjects need a location lookup in the
        // registry, i.e. an address that names a host. The price, measured with `bench scale` (20k idle
        // actors): ~1.5 KB of node heap per nats.js Subscription and ~2.6 KB in nats-server per actor;
        // an idle subscription costs no CPU per message to other actors (the server's sublist is a trie).
        this.#subs.set(id, core.nc.subscribe(core.subjects.actor(id), { callback: (_err, msg) => this.#inbound.receive(cell, msg) }));
        await core.nc.flush(); // the server knows our interest before spawn returns
        if (instance.onStart !== undefined) {
          await withTimeout(core.clock, Promise.resolve(instance.onStart(this.lifecycleContext(id))), core.options.actorStartTimeoutMs, "ERR_ACTOR_START_FAILED", `onStart of ${id}`);
        }
        if (options.durable) await this.#durable.attach(cell, capacity);
      } catch (cause) {
        cell.state = "stopped";
        await this.#teardown(cell, "ERR_ACTOR_STOPPED", `actor ${id} failed to start`);
        await this.#registry.release(claim).catch(() => undefined);
        throw isTetherError(cause) && (cause.code === "ERR_ACTOR_START_FAILED" || cause.code === "ERR_NODE_STOPPED")
          ? cause
          : new TetherError("ERR_ACTOR_START_FAILED", `actor ${id} failed to start: ${String(cause)}`, { cause });
      }
      this.onActivate?.(cell);
      cell.state = "running";
      if (options.passivateAfterMs !== undefined) this.#passivation.enable(cell, options.passivateAfterMs, make);
      cell.resume();
      core.emit({ type: "actor-started", actorId: id, className: actorClass.name });
    } finally {
      directory.starting.delete(id);
    }
  }

  /** The local cell, or ERR_ACTOR_NOT_FOUND. */
  local(id: string): ActorCell {
    const cell = this.#directory.get(id);
    if (cell === undefined) throw new TetherError("ERR_ACTOR_NOT_FOUND", `actor ${id} is not hosted on node ${this.#core.id}`);
    return cell;
  }

  /**
   * Pauses (quarantines) a local actor for `ms`: new messages are refused at once with
   * ERR_ACTOR_PAUSED, durable ones wait in JetStream. What is already queued is handled. `ms` 0 resumes it.
   */
  pause(id: string, ms: number): void {
    const cell = this.local(id);
    cell.pausedUntil = ms <= 0 ? 0 : this.#core.clock.now() + ms;
    this.#core.emit({ type: ms <= 0 ? "actor-resumed" : "actor-paused", actorId: id });
  }

  /** Stops local actors: no new messages, drain (bounded), onStop, give their ids back. */
  async stop(cells: readonly ActorCell[]): Promise<void> {
    await this.#release(cells, { kind: "stop" });
  }

  /** Stops an actor that is moving to another node; false when its checkpoint failed (it was not released). */
  async move(cell: ActorCell): Promise<boolean> {
    return (await this.#release([cell], { kind: "move" })).size === 0;
  }

  /** Stops a local copy that no longer owns its id (another node took it over). */
  async fence(cell: ActorCell, reason: string): Promise<void> {
    if (!this.#directory.owns(cell)) return;
    await this.#release([cell], { kind: "fence", reason });
  }

  /** The one release path. Returns the ids whose checkpoint failed (move only). */
  async #release(cells: readonly ActorCell[], how: Release): Promise<Set<string>> {
    const core = this.#core;
    const failed = new Set<string>();
    if (how.kind === "fence") {
      for (const cell of cells) {
        cell.state = "stopped";
        cell.abortCurrent(new TetherError("ERR_ACTOR_FENCED", `actor ${cell.id} was fenced: ${how.reason}`));
        await this.#teardown(cell, "ERR_ACTOR_NOT_FOUND", `actor ${cell.id} moved to another node`);
        core.logger.warn("actor fenced", { actorId: cell.id, reason: how.reason });
        core.emit({ type: "actor-fenced", actorId: cell.id, reason: how.reason });
      }
      return failed;
    }
    for (const cell of cells) {
      cell.state = "stopping";
      this.#unsubscribe(cell.id);
    }
    await Promise.all(cells.map((cell) => this.#durable.detach(cell.id)));
    const timeoutMs = core.options.shutdownTimeoutMs;
    const drained = await this.#runtime.waitIdle(cells, timeoutMs);
    for (const cell of cells) {
      if (!drained) cell.abortCurrent(new TetherError("ERR_SHUTDOWN_TIMEOUT", `actor ${cell.id} did not drain within ${timeoutMs} ms`));
      this.#rejectQueued(cell, "ERR_SHUTDOWN_TIMEOUT", `actor ${cell.id} stopped before handling the message`);
      cell.state = "stopped";
    }
    await Promise.all(
      cells.map(async (cell) => {
        try {
          if (cell.instance.onStop !== undefined) {
            await withTimeout(core.clock, Promise.resolve(cell.instance.onStop(this.lifecycleContext(cell.id))), core.options.actorStopTimeoutMs, "ERR_SHUTDOWN_TIMEOUT", `onStop of ${cell.id}`);
          }
        } catch (error) {
          core.logger.warn("onStop failed", { actorId: cell.id, error });
        }
        if (how.kind === "move") {
          try {
            await this.#checkpoints.save(cell);
          } catch (error) {
            failed.add(cell.id);
            core.logger.error("checkpoint before a move failed", { actorId: cell.id, error });
          }
        }
        const claim = this.#directory.claims.get(cell.id);
        await this.#teardown(cell, "ERR_SHUTDOWN_TIMEOUT", `actor ${cell.id} stopped`);
        if (claim !== undefined) await this.#registry.release(claim).catch((error: unknown) => core.logger.warn("release failed", { actorId: cell.id, error }));
        core.emit({ type: "actor-stopped", actorId: cell.id });
      }),
    );
    return failed;
  }

  /** Forgets a cell everywhere on this node: subscription, consumer, queue, timers, checkpoint state. */
  async #teardown(cell: ActorCell, code: ErrorCode, message: string): Promise<void> {
    const directory = this.#directory;
    if (directory.cells.get(cell.id) === cell) {
      directory.cells.delete(cell.id);
      directory.claims.delete(cell.id);
      directory.spawnOptions.delete(cell.id);
    }
    this.#unsubscribe(cell.id);
    await this.#durable.detach(cell.id);
    this.#rejectQueued(cell, code, message);
    this.#checkpoints.forget(cell.id);
    this.#passivation.disable(cell.id);
  }

  #unsubscribe(id: string): void {
    this.#subs.get(id)?.unsubscribe();
    this.#subs.delete(id);
  }

  /** Whatever is still queued: durable messages go back to JetStream, the rest is refused and dead-lettered. */
  #rejectQueued(cell: ActorCell, code: ErrorCode, message: string): void {
    for (const d of cell.mailbox.drainAll()) {
      if (d.durable !== undefined) {
        d.durable.nak(); // the next owner gets it
        continue;
      }
      const error = new TetherError(code, `${message} (message ${d.id})`);
      this.#runtime.settle(cell, d, { ok: false, error });
      this.#sink.write(code, error.message, {
        subject: d.subject,
        target: cell.id,
        kind: d.expectsReply ? "ask" : "tell",
        messageType: d.messageType,
        from: d.from,
        messageId: d.id,
        data: undefined,
      });
    }
  }

  lifecycleContext(id: string): ActorLifecycleContext {
    const core = this.#core;
    return { self: id, nodeId: core.id, network: core.network, log: core.logger, clock: core.clock };
  }
}
