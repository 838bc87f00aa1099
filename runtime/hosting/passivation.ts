import { TetherError } from "../../protocols/index.ts";
import type { ActorCell } from "../actor/actor-cell.ts";
import type { ActorInstance } from "../actor/actor-types.ts";
import type { NodeCore } from "../node-core.ts";
import type { TimerHandle } from "../support/clock.ts";
import type { CellDirectory } from "./cell-directory.ts";
import type { Checkpoints } from "./checkpoints.ts";

/** Stands in for a passivated actor's instance (never handles anything: the cell revives first). */
const PASSIVATED = Object.freeze({ handle: () => undefined });

interface Passivable {
  readonly afterMs: number;
  readonly make: () => ActorInstance;
  timer: TimerHandle | undefined;
}

/**
 * Idle passivation (`spawn(..., { passivateAfterMs })`): after that long without messages the actor's
 * state is checkpointed and its instance dropped (id, claim and subscription stay); the next message
 * re-creates the instance from the checkpoint.
 */
export class Passivation {
  readonly #core: NodeCore;
  readonly #directory: CellDirectory;
  readonly #checkpoints: Checkpoints;
  readonly #actors = new Map<string, Passivable>();

  constructor(core: NodeCore, directory: CellDirectory, checkpoints: Checkpoints) {
    this.#core = core;
    this.#directory = directory;
    this.#checkpoints = checkpoints;
  }

  /** Enables passivation of a started actor; `make` builds a fresh instance when it is revived. */
  enable(cell: ActorCell, afterMs: number, make: () => ActorInstance): void {
    this.#actors.set(cell.id, { afterMs, make, timer: undefined });
    this.arm(cell);
  }

  /** (Re)starts the idle timer: called whenever the actor's mailbox runs empty. */
  arm(cell: ActorCell): void {
    const p = this.#actors.get(cell.id);
    if (p === undefined || cell.passivated) return;
    if (p.timer !== undefined) this.#core.clock.clearTimeout(p.timer);
    p.timer = this.#core.clock.setTimeout(() => void this.#passivate(cell), p.afterMs);
    p.timer.unref?.();
  }

  /** Stops passivating an actor (it is stopping, fenced or moving). */
  disable(id: string): void {
    const p = this.#actors.get(id);
    if (p?.timer !== undefined) this.#core.clock.clearTimeout(p.timer);
    this.#actors.delete(id);
  }

  async #passivate(cell: ActorCell): Promise<void> {
    if (cell.busy || cell.passivated || cell.state !== "running" || !this.#directory.owns(cell)) return;
    const handledBefore = cell.handled;
    try {
      await this.#checkpoints.save(cell);
    } catch (error) {
      this.#core.logger.warn("passivation skipped: checkpoint failed", { actorId: cell.id, error });
      return;
    }
    // a message handled (or queued) while saving, or a stop, means the checkpoint is not the latest state
    if (cell.handled !== handledBefore || cell.busy || cell.state !== "running" || !this.#directory.owns(cell) || this.#checkpoints.saving(cell.id)) return;
    cell.passivated = true;
    cell.instance = PASSIVATED as unknown as ActorInstance; // the real instance (and its state) can be collected
    this.#core.emit({ type: "actor-passivated", actorId: cell.id });
  }

  /** Re-creates a passivated actor's instance from its checkpoint. */
  async revive(cell: ActorCell): Promise<void> {
    const p = this.#actors.get(cell.id);
    if (p === undefined) throw new TetherError("ERR_ACTOR_START_FAILED", `actor ${cell.id} cannot be revived`);
    const instance = p.make();
    await this.#checkpoints.restoreInto(cell.id, instance);
    cell.instance = instance;
    cell.passivated = false;
    this.#core.emit({ type: "actor-revived", actorId: cell.id });
  }
}
