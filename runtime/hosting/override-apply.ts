import {
  OVERRIDE_ACTOR_ID,
  TetherError,
  encodeBody,
  type HumanTask,
  type LiftDisposition,
  type OverrideAck,
  type OverrideConstraints,
  type OverrideScope,
  type OverrideSignalBody,
} from "../../protocols/index.ts";
import type { ActorCell } from "../actor/actor-cell.ts";
import type { DeadLetterSink } from "../messaging/dead-letter-sink.ts";
import type { NodeCore } from "../node-core.ts";
import type { CellDirectory } from "./cell-directory.ts";
import type { CellRuntime } from "./cell-runtime.ts";
import { TakenOverAsks } from "./override-replies.ts";

/** One active override as a node holds it: the signal, and the actors it was applied to here. */
export interface HeldOverride {
  readonly signal: OverrideSignalBody;
  /** Actors it was applied to on this node (workflow scopes: at the signal, and each actor caught later). */
  readonly applied: Set<string>;
  /** Actors whose `onOverride` declined it (advisory). */
  readonly declined: Set<string>;
}

/** Where a takeover puts the work it takes from an actor. */
export type WorkQueue = (task: HumanTask) => void;

/** The actors a scope names among this node's cells (never the override actor itself, nor exempt ones). */
export const matchesScope = (scope: OverrideScope, cell: ActorCell, p: { nodeId: string; directory: CellDirectory; exempt: ReadonlySet<string> }): boolean => {
  if (cell.id === OVERRIDE_ACTOR_ID) return false;
  switch (scope.kind) {
    case "agent":
      return cell.id === scope.id;
    case "workflow":
      return !p.exempt.has(cell.id) && cell.current?.incoming?.wid === scope.wid;
    case "subtree":
      return cell.id === scope.id || scope.members.includes(cell.id);
    case "capability":
      return !p.exempt.has(cell.id) && (p.directory.claims.get(cell.id)?.record.capabilities.includes(scope.capability) ?? false);
    case "node":
      return !p.exempt.has(cell.id) && p.nodeId === scope.id;
    case "network":
      return !p.exempt.has(cell.id);
  }
};

/** Merges every constrain that applies to one actor: the tightest of each limit. */
export const mergeConstraints = (all: readonly OverrideConstraints[]): OverrideConstraints | undefined => {
  if (all.length === 0) return undefined;
  let allowed: string[] | undefined;
  let rate: number | undefined;
  const bounds: Record<string, { min?: number; max?: number }> = {};
  for (const c of all) {
    if (c.allowedActions !== undefined) allowed = allowed === undefined ? [...c.allowedActions] : allowed.filter((a) => c.allowedActions?.includes(a));
    if (c.maxActsPerSecond !== undefined) rate = Math.min(rate ?? Infinity, c.maxActsPerSecond);
    for (const [key, b] of Object.entries(c.bounds ?? {})) {
      const prev = bounds[key] ?? {};
      const min = Math.max(prev.min ?? -Infinity, b.min ?? -Infinity);
      const max = Math.min(prev.max ?? Infinity, b.max ?? Infinity);
      bounds[key] = { ...(Number.isFinite(min) ? { min } : {}), ...(Number.isFinite(max) ? { max } : {}) };
    }
  }
  return {
    ...(allowed === undefined ? {} : { allowedActions: allowed }),
    ...(rate === undefined ? {} : { maxActsPerSecond: rate }),
    ...(Object.keys(bounds).length === 0 ? {} : { bounds }),
  };
};

export const stoppedError = (actorId: string, overrideId: string, reason: string): TetherError =>
  new TetherError("ERR_ACTOR_STOPPED_BY_OVERRIDE", `actor ${actorId} was stopped by override ${overrideId}: ${reason}`, { details: { actorId, overrideId } });

/**
 * Applies holds and limits to cells and reports what it did: the part of the override gate that
 * touches actors (the gate verifies, persists and listens).
 */
export class OverrideApplier {
  readonly #core: NodeCore;
  readonly #runtime: CellRuntime;
  readonly #sink: DeadLetterSink;
  readonly #work: WorkQueue;
  /** Asks a takeover gave to a human, answered with the human's result. */
  readonly takenOver: TakenOverAsks;

  constructor(p: { core: NodeCore; runtime: CellRuntime; sink: DeadLetterSink; work: WorkQueue }) {
    this.#core = p.core;
    this.#runtime = p.runtime;
    this.#sink = p.sink;
    this.#work = p.work;
    this.takenOver = new TakenOverAsks(p.core, p.runtime);
  }

  /**
   * Recomputes a cell's holds and limits from every override that applies to it. `fresh` is the
   * signal being applied now (emergency and takeover abort the handler in flight; takeover moves the
   * queued work). Returns what the acknowledgement reports.
   */
  evaluate(cell: ActorCell, held: Iterable<HeldOverride>, fresh?: OverrideSignalBody, preempt = true): { aborted: boolean; queued: number } {
    let stop: HeldOverride | undefined;
    let pause = false;
    let takeover: HeldOverride | undefined;
    const constraints: OverrideConstraints[] = [];
    for (const h of held) {
      if (!h.applied.has(cell.id) || h.declined.has(cell.id)) continue;
      const action = h.signal.action;
      if (action === "stop") stop ??= h;
      else if (action === "pause") pause = true;
      else if (action === "takeover") takeover ??= h;
      else if (action === "constrain" && h.signal.constraints !== undefined) constraints.push(h.signal.constraints);
    }
    cell.constraints = mergeConstraints(constraints);
    // set new holds before clearing old ones, so the mailbox never runs in between
    if (stop !== undefined) cell.hold("stop", true);
    if (pause) cell.hold("pause", true);
    if (takeover !== undefined) cell.hold("takeover", true);
    let aborted = false;
    if (preempt && fresh !== undefined && cell.current !== undefined) {
      const preempting = (fresh.action === "stop" && fresh.level === "emergency") || fresh.action === "takeover";
      if (preempting && (fresh.action === "stop" ? stop !== undefined : takeover !== undefined)) {
        cell.abortCurrent(stoppedError(cell.id, fresh.id, fresh.reason));
        aborted = true;
      }
    }
    if (fresh?.action === "takeover" && takeover !== undefined) this.#moveToHumans(cell, fresh, aborted);
    if (stop === undefined) cell.hold("stop", false);
    if (!pause) cell.hold("pause", false);
    if (takeover === undefined) cell.hold("takeover", false);
    return { aborted, queued: cell.mailbox.size };
  }

  /** A lifted stop whose messages are to be dead-lettered: refuse and record everything still queued. */
  discardQueued(cell: ActorCell, overrideId: string, disposition: LiftDisposition): void {
    if (disposition !== "dead-letter" || cell.holds.has("stop")) return;
    cell.hold("pause", true); // nothing runs while the queue is emptied
    for (const d of cell.mailbox.drainWork()) {
      if (d.durable !== undefined) {
        d.durable.term();
        continue;
      }
      const error = stoppedError(cell.id, overrideId, "dead-lettered when the stop was lifted");
      this.#runtime.settle(cell, d, { ok: false, error });
      this.#sink.write(error.code, error.message, { subject: d.subject, target: cell.id, kind: d.expectsReply ? "ask" : "tell", messageType: d.messageType, from: d.from, messageId: d.id, data: undefined });
    }
    cell.hold("pause", false);
  }

  /**
   * Takeover: the in-flight message and everything queued go to the human work queue. An ask (in
   * flight or queued) stays open: the human's result is its answer (`TakenOverAsks`); tells are done
   * with here, durable ones terminated.
   */
  #moveToHumans(cell: ActorCell, signal: OverrideSignalBody, aborted: boolean): void {
    const now = this.#core.clock.now();
    const items = [...(aborted && cell.current !== undefined ? [cell.current] : []), ...cell.mailbox.drainWork()];
    for (const d of items) {
      const wid = d.incoming?.wid;
      const taskId = `${signal.id.slice(0, 60)}-${d.id.slice(0, 60)}`;
      const awaitsReply = d.expectsReply && d.durable === undefined && this.takenOver.hold(taskId, cell, d);
      this.#work({
        type: "tether.override.v1.human-task",
        taskId,
        overrideId: signal.id,
        actorId: cell.id,
        messageId: d.id.slice(0, 128),
        ...(d.messageType === undefined ? {} : { messageType: d.messageType.slice(0, 256) }),
        body: d.body,
        ...(wid === undefined ? {} : { wid: wid.slice(0, 256) }),
        at: now,
        ...(awaitsReply ? { awaitsReply } : {}),
      });
      if (d !== cell.current && !awaitsReply) {
        if (d.durable !== undefined) d.durable.term();
        else this.#runtime.settle(cell, d, { ok: false, error: stoppedError(cell.id, signal.id, "taken over by a human") });
      }
    }
  }

  /** Publishes one actor's acknowledgement on the signal's ack subject. */
  ack(subject: string, ack: OverrideAck): void {
    try {
      this.#core.nc.publish(subject, encodeBody(ack));
    } catch (error) {
      this.#core.logger.warn("override acknowledgement not published", { overrideId: ack.overrideId, actorId: ack.actorId, error });
    }
  }
}
