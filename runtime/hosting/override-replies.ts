import type { Msg, Subscription } from "@nats-io/transport-node";
import { HumanTaskDone, decodeBody, encodeBody, overrideSubjects } from "../../protocols/index.ts";
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
    const entry = this.#waiting.get(done.taskId);
    if (entry === undefined) return; // another node's task
    this.#waiting.delete(done.taskId);
    this.#runtime.settleHandedOver(entry.cell, entry.delivery, { ok: true, value: done.result });
    if (msg.reply) msg.respond(encodeBody({ delivered: true, nodeId: this.#core.id }));
    if (this.#waiting.size === 0) {
      this.#sub?.unsubscribe();
      this.#sub = undefined;
    }
  }
}
