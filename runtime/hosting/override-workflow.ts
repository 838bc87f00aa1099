import { OVERRIDE_ACTOR_ID } from "../../protocols/index.ts";
import type { ActorCell, Delivery } from "../actor/actor-cell.ts";
import type { Logger } from "../support/logger.ts";
import type { OverrideStore } from "../stores/override-store.ts";
import type { HeldOverride } from "./override-apply.ts";

/**
 * Workflow-scoped overrides after the moment of the signal. A workflow scope names the actors working
 * on a workflow id; the signal reaches those whose handler carries it then, and later:
 *
 * - **sweep**: at the signal, an actor with a message of the workflow already queued is caught too.
 * - **screen**: a message carrying the workflow id that reaches an actor not yet held by the override
 *   (it arrives, or the actor is activated, after the signal) brings the actor into the scope before
 *   the message can run: it is held (pause), kept and new work refused (stop), or moved to the human
 *   work queue (takeover), and the actor acknowledges. The handler in flight (another workflow's) is
 *   not aborted. Advisory signals are not applied late (nobody is asked).
 * - **fencing**: the override actor keeps the ids of every actor caught so (`caught` in the KV
 *   record); an actor activated later (failover, migration, restart) that was caught anywhere gets the
 *   override again before its first message.
 */
export class WorkflowScopes {
  readonly #held: ReadonlyMap<string, HeldOverride>;
  readonly #store: Pick<OverrideStore, "get">;
  readonly #exempt: ReadonlySet<string>;
  readonly #catch: (cell: ActorCell, h: HeldOverride, fenced: boolean) => void;
  readonly #stale: () => boolean;
  readonly #logger: Logger;

  constructor(p: {
    held: ReadonlyMap<string, HeldOverride>;
    store: Pick<OverrideStore, "get">;
    exempt: ReadonlySet<string>;
    catch: (cell: ActorCell, h: HeldOverride, fenced: boolean) => void;
    stale: () => boolean;
    logger: Logger;
  }) {
    this.#held = p.held;
    this.#store = p.store;
    this.#exempt = p.exempt;
    this.#catch = p.catch;
    this.#stale = p.stale;
    this.#logger = p.logger;
  }

  #open(cell: ActorCell): HeldOverride[] {
    if (cell.id === OVERRIDE_ACTOR_ID || this.#exempt.has(cell.id)) return [];
    const out: HeldOverride[] = [];
    for (const h of this.#held.values()) if (h.signal.scope.kind === "workflow" && h.signal.level !== "advisory" && !h.applied.has(cell.id)) out.push(h);
    return out;
  }

  /** Called as a delivery enters a cell's mailbox: a message of a held workflow brings the actor into its scope. */
  screen(cell: ActorCell, delivery: Delivery): void {
    const wid = delivery.incoming?.wid;
    if (wid === undefined || delivery.control) return;
    for (const h of this.#open(cell)) if (h.signal.scope.kind === "workflow" && h.signal.scope.wid === wid) this.#catch(cell, h, false);
  }

  /**
   * Right after a workflow signal was applied: an actor with a message of the workflow already queued
   * (behind another workflow's handler, say) is caught too, before that message can run.
   */
  sweep(h: HeldOverride, cells: Iterable<ActorCell>): void {
    if (h.signal.scope.kind !== "workflow" || h.signal.level === "advisory") return;
    const wid = h.signal.scope.wid;
    for (const cell of cells) {
      if (cell.state === "stopped" || h.applied.has(cell.id) || cell.id === OVERRIDE_ACTOR_ID || this.#exempt.has(cell.id)) continue;
      if (cell.mailbox.someWork((d) => !d.control && d.incoming?.wid === wid)) this.#catch(cell, h, false);
    }
  }

  /**
   * At activation: the workflow overrides this actor was caught by (here before, or on any node per the
   * KV record) apply again. Held ("fencing") while the records are read.
   */
  admit(cell: ActorCell): void {
    const open = this.#open(cell);
    if (open.length === 0) return;
    cell.hold("fencing", true);
    void (async () => {
      for (const h of open) {
        try {
          const record = await this.#store.get(h.signal.id);
          if (record?.caught?.includes(cell.id) === true && this.#held.get(h.signal.id) === h && !h.applied.has(cell.id)) this.#catch(cell, h, true);
        } catch (error) {
          this.#logger.warn("could not read a workflow override's caught actors; applying it to be safe", { overrideId: h.signal.id, actorId: cell.id, error });
          this.#catch(cell, h, true);
        }
      }
    })().finally(() => {
      if (!this.#stale()) cell.hold("fencing", false);
    });
  }
}
