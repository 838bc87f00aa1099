import { TetherError, hasCode } from "../../protocols/index.ts";
import type { ActorCell } from "../actor/actor-cell.ts";
import type { NodeCore } from "../node-core.ts";
import type { ProcessedMark, StateStore } from "../stores/state-store.ts";
import type { CellDirectory } from "./cell-directory.ts";

const stateOf = (instance: object): unknown => (instance as { state?: unknown }).state;

/**
 * Actor state checkpoints as this node sees them: the revision each local actor last saved (every
 * save is a compare-and-set from it, so a stale copy can never overwrite a newer owner's state), the
 * durable messages each state includes, and one save at a time per actor.
 */
export class Checkpoints {
  readonly #core: NodeCore;
  readonly #store: StateStore;
  readonly #directory: CellDirectory;
  readonly #beforeSave: () => Promise<void>;
  readonly #revisions = new Map<string, number>();
  readonly #processed = new Map<string, ProcessedMark[]>();
  /** Per actor: the acknowledgement floor of its lane as last seen (see DurableProgress). */
  readonly #floors = new Map<string, number>();
  readonly #chains = new Map<string, Promise<number>>();
  /** Called when a save finds that another copy saved since: this copy must stop (set at assembly). */
  onFenced: (cell: ActorCell, reason: string) => void = () => undefined;

  /** `beforeSave` runs before every save (the lease check: a node whose lease lapsed re-asserts its claims first). */
  constructor(core: NodeCore, store: StateStore, directory: CellDirectory, beforeSave: () => Promise<void>) {
    this.#core = core;
    this.#store = store;
    this.#directory = directory;
    this.#beforeSave = beforeSave;
  }

  /** Saves a cell's state (with its processed durable marks) by compare-and-set; one save at a time per actor. */
  save(cell: ActorCell): Promise<number> {
    if (cell.passivated) return Promise.resolve(this.#revisions.get(cell.id) ?? 0); // its state is the checkpoint already
    // Snapshot now, synchronously: the state together with exactly the durable messages it includes.
    // Written later, after the saves ahead of it, it must not pick up what the actor did meanwhile (an
    // async handler that already changed the state for a message not marked yet would be applied twice
    // after a crash).
    let data: Uint8Array;
    try {
      data = this.#store.encode(cell.id, stateOf(cell.instance), this.#core.id, this.#core.clock.now(), {
        marks: this.#processed.get(cell.id) ?? [],
        floor: this.#floors.get(cell.id) ?? 0,
      });
    } catch (error) {
      return Promise.reject(error);
    }
    const previous = this.#chains.get(cell.id) ?? Promise.resolve(0);
    const next = previous.catch(() => 0).then(() => this.#saveNow(cell, data));
    this.#chains.set(cell.id, next);
    void next
      .finally(() => {
        if (this.#chains.get(cell.id) === next) this.#chains.delete(cell.id);
      })
      .catch(() => undefined);
    return next;
  }

  /** Settles when the saves of this actor queued so far have landed (rejects if the last one failed). */
  whenSaved(id: string): Promise<unknown> {
    return this.#chains.get(id) ?? Promise.resolve();
  }

  /** True while a save of this actor is in flight. */
  saving(id: string): boolean {
    return this.#chains.has(id);
  }

  async #saveNow(cell: ActorCell, data: Uint8Array): Promise<number> {
    await this.#beforeSave();
    if (!this.#directory.owns(cell)) throw new TetherError("ERR_ACTOR_FENCED", `actor ${cell.id} was fenced: not saving its state`);
    try {
      const revision = await this.#store.saveEncoded(cell.id, data, this.#revisions.get(cell.id) ?? 0);
      this.#revisions.set(cell.id, revision);
      return revision;
    } catch (error) {
      if (hasCode(error, "ERR_ACTOR_FENCED")) this.onFenced(cell, "its checkpoint was overwritten by another copy");
      throw error;
    }
  }

  /** Remembers the checkpoint revision an actor starts from (a fresh spawn that does not restore). */
  async adopt(id: string): Promise<void> {
    this.#revisions.set(id, (await this.#store.load(id))?.revision ?? 0);
  }

  /**
   * Restores an actor's state as its new owner and fences every older copy before it processes anything:
   * writes the checkpoint back by compare-and-set. If a stale copy's write (issued before it was paused)
   * lands first, that write holds acknowledged progress: reload it and try again. Once this write lands,
   * any write from an older copy fails.
   */
  async takeOver(id: string, instance: object): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const saved = await this.#store.load(id);
      const state = saved === undefined ? stateOf(instance) : saved.state;
      const processed = [...(saved?.processed ?? [])];
      const floor = saved?.floor ?? 0;
      try {
        const revision = await this.#store.save(id, state, this.#core.id, this.#core.clock.now(), { marks: processed, floor }, saved?.revision ?? 0);
        (instance as { state?: unknown }).state = state;
        this.#revisions.set(id, revision);
        this.#processed.set(id, processed);
        this.#floors.set(id, floor);
        return;
      } catch (error) {
        if (!hasCode(error, "ERR_ACTOR_FENCED")) throw error;
      }
    }
    throw new TetherError("ERR_ACTOR_START_FAILED", `actor ${id}: its checkpoint kept changing while taking it over`);
  }

  /** Reloads a passivated actor's state into a fresh instance. */
  async restoreInto(id: string, instance: object): Promise<void> {
    const saved = await this.#store.load(id);
    if (saved === undefined) return;
    (instance as { state?: unknown }).state = saved.state;
    this.#revisions.set(id, saved.revision);
  }

  /**
   * True when the actor's state already includes the durable message `messageId` stored at stream
   * sequence `seq`: it is marked, or at or below the acknowledgement floor (acknowledged only once a
   * state including it was saved, or terminated: never to be handled again either way).
   */
  includes(id: string, messageId: string, seq: number): boolean {
    if (seq > 0 && seq <= (this.#floors.get(id) ?? 0)) return true;
    return this.#processed.get(id)?.some((m) => m.id === messageId) ?? false;
  }

  /** Records that the actor's state now includes a durable message (saved with the next checkpoint). */
  markProcessed(id: string, mark: ProcessedMark): void {
    const marks = this.#processed.get(id);
    if (marks === undefined) this.#processed.set(id, [mark]);
    else marks.push(mark);
  }

  /** How many processed marks an actor carries now. */
  processedCount(id: string): number {
    return this.#processed.get(id)?.length ?? 0;
  }

  /**
   * Drops marks at or below the consumer's acknowledgement floor: JetStream never redelivers those,
   * so the dedup list is bounded by what is in flight, not by a count or a rate.
   */
  pruneProcessed(id: string, ackFloor: number): void {
    // the floor is kept (and saved): a copy JetStream sent before the original's ack may still arrive
    if (ackFloor > (this.#floors.get(id) ?? 0)) this.#floors.set(id, ackFloor);
    const marks = this.#processed.get(id);
    if (marks === undefined) return;
    this.#processed.set(
      id,
      marks.filter((m) => m.seq > ackFloor),
    );
  }

  /** Forgets a local actor (stopped, fenced or moved). */
  forget(id: string): void {
    this.#revisions.delete(id);
    this.#processed.delete(id);
    this.#floors.delete(id);
  }
}
