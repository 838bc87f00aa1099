import type { Msg, Subscription } from "@nats-io/transport-node";
import { HumanTaskDone, decodeBody, encodeBody, overrideSubjects, type VerifiedControl } from "../../protocols/index.ts";
import type { ActorCell, Delivery } from "../actor/actor-cell.ts";
import type { NodeCore } from "../node-core.ts";
import type { CellRuntime } from "./cell-runtime.ts";

/** At most this many taken-over asks wait for a human on one node; beyond it they are refused at once, as before. */
const MAX_WAITING = 10_000;

/**
 * Asks a takeover moved to the human work queue, kept open on the node that took them: when a person
 * completes the task (`tether overrides done`, `OverrideClient.completeTask`), the override actor
 * announces it on `tether.<net>.override.done` and this node answers the original asker with the
 * human's result (local ask, remote ask's reply subject alike), then confirms delivery. The asker must
 * wait long enough (its ask timeout); an ask that timed out meanwhile is simply not answered.
 */
export class TakenOverAsks {
  readonly #core: NodeCore;
  readonly #runtime: Pick<CellRuntime, "handOver" | "settleHandedOver">;
  readonly #waiting = new Map<string, { cell: ActorCell; delivery: Delivery }>();
  #sub: Subscription | undefined;
  /**
   * Checks the person's signed task result an announcement carries (set by the assembly: the override
   * gate's verification). Anyone on the bus can publish on the done subject; only a result signed by a
   * person who may take over, for this very task, answers the asker. Unset: nothing is answered.
   */
  verify: ((envelope: unknown) => Promise<VerifiedControl>) | undefined;

  constructor(core: NodeCore, runtime: Pick<CellRuntime, "handOver" | "settleHandedOver">) {
    this.#core = core;
    this.#runtime = runtime;
  }

  /** Keeps an ask open for the human's result; false when too many already wait (the caller refuses it). */
  hold(taskId: string, cell: ActorCell, delivery: Delivery): boolean {
    if (this.#waiting.size >= MAX_WAITING) return false;
    this.#runtime.handOver(delivery);
    this.#waiting.set(taskId, { cell, delivery });
    this.#sub ??= this.#core.nc.subscribe(overrideSubjects(this.#core.network).done(), { callback: (_err, msg) => this.#onDone(msg) });
    return true;
  }

  get size(): number {
    return this.#waiting.size;
  }

  #onDone(msg: Msg): void {
    let done: HumanTaskDone;
    try {
      done = HumanTaskDone.parse(decodeBody(msg.data));
    } catch {
      return;
    }
    if (!this.#waiting.has(done.taskId) || this.verify === undefined) return; // another node's task
    const ignored = (error: unknown) => this.#core.logger.warn("an unverified human task result was ignored", { taskId: done.taskId, error });
    this.verify(done.envelope).then(
      (v) => {
        if (v.body.type !== "tether.override.v1.task-result" || v.body.taskId !== done.taskId) {
          ignored(new Error("not this task's signed result"));
          return;
        }
        const entry = this.#waiting.get(done.taskId);
        if (entry === undefined) return; // answered meanwhile
        this.#waiting.delete(done.taskId);
        this.#runtime.settleHandedOver(entry.cell, entry.delivery, { ok: true, value: v.body.result });
        if (msg.reply) msg.respond(encodeBody({ delivered: true, nodeId: this.#core.id }));
        if (this.#waiting.size === 0) {
          this.#sub?.unsubscribe();
          this.#sub = undefined;
        }
      },
      ignored,
    );
  }
}
