import { hasCode, isLeaseAlive, type ActorRecord, type NodeRecord } from "../../protocols/index.ts";
import type { CellDirectory } from "../hosting/cell-directory.ts";
import type { RegisteredTypes } from "../hosting/registered-types.ts";
import type { NodeCore } from "../node-core.ts";
import type { Registry } from "../stores/registry.ts";
import type { ControlPlane } from "./control-plane.ts";
import { sleep } from "../support/clock.ts";

/** Re-activates one orphaned actor here from its checkpoint (the node's spawn with `restore`). */
export type Reactivate = (actorId: string, className: string) => Promise<"started" | "skipped">;

/**
 * Failover: finds actors whose claim no live node holds and re-activates them here, for the classes
 * this node registered. An orphan is an actor claimed by a node whose lease lapsed, or claimed under an
 * older epoch of a node that restarted since (it came back without re-claiming it). Least-loaded
 * placement: every candidate waits in proportion to its own load before claiming, so the least-loaded
 * node usually wins; the registry's compare-and-set makes sure exactly one does.
 */
export class Failover {
  readonly #core: NodeCore;
  readonly #registry: Registry;
  readonly #directory: CellDirectory;
  readonly #types: RegisteredTypes;
  readonly #control: ControlPlane;
  readonly #reactivate: Reactivate;
  /** Node epochs already scanned with nothing left to take over (`live|dead:<node>:<epoch>`). */
  readonly #handled = new Set<string>();
  #scanning = false;

  constructor(core: NodeCore, registry: Registry, directory: CellDirectory, types: RegisteredTypes, control: ControlPlane, reactivate: Reactivate) {
    this.#core = core;
    this.#registry = registry;
    this.#directory = directory;
    this.#types = types;
    this.#control = control;
    this.#reactivate = reactivate;
  }

  /** Runs a scan unless one is in progress (called after each heartbeat). */
  trigger(): void {
    if (this.#scanning || this.#types.size === 0) return;
    this.#scanning = true;
    void this.#scan()
      .catch((error: unknown) => this.#core.logger.warn("failover scan failed; retrying next beat", { error }))
      .finally(() => {
        this.#scanning = false;
      });
  }

  async #scan(): Promise<void> {
    const core = this.#core;
    const now = core.clock.now();
    const nodes = await this.#registry.listNodes().catch(() => []);
    const live = nodes.filter((n) => isLeaseAlive(n, now));
    for (const node of nodes) {
      const alive = isLeaseAlive(node, now);
      if (!alive && node.nodeId === core.id) continue;
      // a live node that re-registered keeps claims of its older epochs only if it re-asserts them:
      // give it two heartbeats after its (re)start to do so before they count as orphans
      if (alive && now - node.startedAt < 2 * core.options.heartbeatMs) continue;
      // one scan per node epoch: stale claims only appear when a node dies or re-registers
      const key = `${alive ? "live" : "dead"}:${node.nodeId}:${node.epoch}`;
      if (this.#handled.has(key)) continue;
      let orphans: ActorRecord[];
      try {
        orphans = (await this.#registry.ownedBy(node.nodeId)).filter((a) => (alive ? a.nodeEpoch < node.epoch : a.nodeEpoch <= node.epoch));
      } catch (error) {
        core.logger.warn("failover: cannot list a node's actors yet; retrying next beat", { nodeId: node.nodeId, error });
        continue; // not marked handled: the next scan tries again
      }
      if (orphans.length === 0) {
        this.#handled.add(key);
        continue;
      }
      if (!alive) core.emit({ type: "node-dead", nodeId: node.nodeId, actors: orphans.map((a) => a.actorId) });
      if (await this.#adopt(node, orphans, live)) this.#handled.add(key);
    }
  }

  /** Re-activates orphans of `from` here; true when none needs another try. */
  async #adopt(from: NodeRecord, orphans: readonly ActorRecord[], live: readonly NodeRecord[]): Promise<boolean> {
    const core = this.#core;
    const rank = live.filter((n) => n.nodeId !== core.id && n.actorCount < this.#directory.size).length;
    await sleep(core.clock, rank * 150 + Math.floor(core.random() * 50));
    let complete = true;
    for (const orphan of orphans) {
      if (this.#types.get(orphan.className) === undefined || this.#directory.cells.has(orphan.actorId) || !core.running) continue;
      try {
        if ((await this.#reactivate(orphan.actorId, orphan.className)) === "skipped") continue;
        if (from.nodeId !== core.id) {
          // if the "dead" node was only paused or partitioned, it stops its copy as soon as it hears this
          // (signed with this node's key: only the node that took the actor over can fence it)
          this.#control.notify(from.nodeId, { type: "tether.node.v1.fence", actorId: orphan.actorId, by: core.id });
        }
        core.metrics.failedOver(orphan.className);
        core.emit({ type: "actor-failed-over", actorId: orphan.actorId, from: from.nodeId, to: core.id });
      } catch (error) {
        if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) {
          complete = false; // transient (e.g. a JetStream leader election): retry on the next scan
          core.logger.warn("failover of an actor failed; retrying next beat", { actorId: orphan.actorId, error });
        }
      }
    }
    return complete;
  }
}
