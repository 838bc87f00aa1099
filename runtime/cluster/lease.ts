import type { NodeRecord } from "../../protocols/index.ts";
import type { ActorCell } from "../actor/actor-cell.ts";
import type { CellDirectory } from "../hosting/cell-directory.ts";
import type { LeaseGuard } from "../hosting/cell-runtime.ts";
import type { NodeCore } from "../node-core.ts";
import type { Registry } from "../stores/registry.ts";

/**
 * The node's lease in the registry: heartbeats, and fencing of itself when the lease lapsed (the process
 * was paused or partitioned, so others may have taken its actors over): re-register under a new epoch
 * and re-assert each claim by compare-and-set before any more work; a lost claim stops the local copy.
 */
export class Lease implements LeaseGuard {
  readonly #core: NodeCore;
  readonly #registry: Registry;
  readonly #directory: CellDirectory;
  #record: NodeRecord;
  #lastBeatOk = 0;
  #check: Promise<void> | undefined;
  /** Stops a local copy whose claim another node holds now (set at assembly: the host's fence). */
  onClaimLost: (cell: ActorCell, reason: string) => Promise<void> = async () => undefined;

  constructor(core: NodeCore, registry: Registry, directory: CellDirectory, record: NodeRecord) {
    this.#core = core;
    this.#registry = registry;
    this.#directory = directory;
    this.#record = record;
  }

  get record(): NodeRecord {
    return this.#record;
  }

  get epoch(): number {
    return this.#record.epoch;
  }

  lapsed(): boolean {
    return this.#lastBeatOk !== 0 && this.#core.clock.now() - this.#lastBeatOk > this.#core.options.leaseTtlMs;
  }

  /** If the lease lapsed, re-asserts (or loses) every claim before any more work: shared by all cells. */
  ensure(): Promise<void> {
    if (!this.lapsed()) return Promise.resolve();
    this.#check ??= this.#fenceSelf()
      .then(() => {
        this.#lastBeatOk = this.#core.clock.now();
      })
      .finally(() => {
        this.#check = undefined;
      });
    return this.#check;
  }

  /** One heartbeat; false when it could not be written. */
  async beat(): Promise<boolean> {
    const now = this.#core.clock.now();
    try {
      if (this.lapsed()) await this.ensure();
      else {
        this.#record = await this.#registry.heartbeat({ ...this.#record, actorCount: this.#directory.size });
        this.#lastBeatOk = now;
      }
      return true;
    } catch (error) {
      this.#core.logger.warn("heartbeat failed", { error });
      return false;
    }
  }

  async #fenceSelf(): Promise<void> {
    this.#record = await this.#registry.registerNode(this.#core.id, this.#core.network, this.#core.options.leaseTtlMs);
    this.#core.logger.warn("lease lapsed: re-registered under a new epoch, re-checking every claim", { epoch: this.#record.epoch });
    for (const [actorId, claim] of [...this.#directory.claims]) {
      const renewed = await this.#registry.reclaim(claim, this.#record.epoch);
      if (renewed !== undefined) this.#directory.claims.set(actorId, renewed);
      else {
        const cell = this.#directory.get(actorId);
        if (cell !== undefined) await this.onClaimLost(cell, "its claim was taken over while this node's lease had lapsed");
      }
    }
  }

  /** Removes the node's lease (graceful close). */
  async remove(): Promise<void> {
    await this.#registry.removeNode(this.#core.id);
  }
}
