import { encodeCredit } from "../../protocols/index.ts";
import type { ActorCell } from "../actor/actor-cell.ts";
import type { NodeCore } from "../node-core.ts";
import type { TimerHandle } from "../support/clock.ts";

/** The sending node's window towards one remote actor. */
interface Window {
  /** Tells sent and not yet credited back (handled, refused, or reported unreachable). */
  inFlight: number;
  /** `ref.ready()` callers waiting for room. */
  waiters: (() => void)[] | undefined;
  /** Credit timeout armed while someone waits. */
  timer: TimerHandle | undefined;
  /** True when a credit arrived since the timer was armed. */
  credited: boolean;
}

/**
 * Flow control of `tell`, in Node's `stream.write()` idiom: `ref.tell()` still sends at once and
 * returns false once the sender should wait; `ref.ready()` resolves when the target has room.
 *
 * Remote targets use credit windows per (sending node → actor): every tell counts against the
 * window; the receiving node returns credits in batches on the tell's fixed reply subject
 * (`…reply.<node>.t.<target>`) as the actor handles them, and every refusal report or "no responders"
 * notice on that subject returns one credit too. A sender that waits for `ready()` therefore never has
 * more than `tellWindow` tells queued at the target, so it loses nothing while the windows of all its
 * senders fit in the mailbox; a sender that ignores the signal still meets the bounded mailbox
 * (ERR_MAILBOX_FULL reported as `undeliverable` and dead-lettered). If credits stop coming (messages
 * lost with a crashed node) a waiting sender's window is reset after `tellCreditTimeoutMs`.
 *
 * Local targets (same node) need no credits: the mailbox is right here, so `tell` returns whether it
 * has room and `ready()` waits until the actor has drained it.
 */
export class TellFlow {
  readonly #core: NodeCore;
  readonly #windows = new Map<string, Window>();
  readonly #localWaiters = new Map<ActorCell, (() => void)[]>();
  /** Receiving side: tells handled per reply subject (sending node × target) and not yet credited. */
  readonly #uncredited = new Map<string, number>();
  #grantTimer: TimerHandle | undefined;
  #flushQueued = false;

  constructor(core: NodeCore) {
    this.#core = core;
  }

  // ---- sending side -------------------------------------------------------------------------

  /** Counts a tell sent to a remote `target`; false once the window is used up (wait for `ready`). */
  sent(target: string): boolean {
    let w = this.#windows.get(target);
    if (w === undefined) {
      w = { inFlight: 0, waiters: undefined, timer: undefined, credited: false };
      this.#windows.set(target, w);
    }
    return ++w.inFlight < this.#core.options.tellWindow;
  }

  /** Whether a tell to a remote `target` would fit in its window now. */
  hasRoom(target: string): boolean {
    return (this.#windows.get(target)?.inFlight ?? 0) < this.#core.options.tellWindow;
  }

  /** `n` tells to `target` were handled or refused (credits from its node, a report, a no-responders notice). */
  credit(target: string, n: number): void {
    const w = this.#windows.get(target);
    if (w === undefined) return; // forged, or credits after a reset
    w.inFlight = Math.max(0, w.inFlight - n);
    w.credited = true;
    if (w.inFlight < this.#core.options.tellWindow) this.#wake(target, w);
  }

  /** Resolves when a tell to the remote `target` fits in the window. */
  ready(target: string): Promise<void> {
    const w = this.#windows.get(target);
    if (w === undefined || w.inFlight < this.#core.options.tellWindow) return Promise.resolve();
    return new Promise((resolve) => {
      (w.waiters ??= []).push(resolve);
      if (w.timer === undefined) this.#armTimeout(target, w);
    });
  }

  #armTimeout(target: string, w: Window): void {
    w.credited = false;
    const ms = this.#core.options.tellCreditTimeoutMs;
    w.timer = this.#core.clock.setTimeout(() => {
      w.timer = undefined;
      if (w.waiters === undefined) return;
      if (w.credited) {
        this.#armTimeout(target, w); // credits still flow, the target is just busy
        return;
      }
      this.#core.logger.warn("no tell credits came back in time; window reset", { target, inFlight: w.inFlight, timeoutMs: ms });
      w.inFlight = 0;
      this.#wake(target, w);
    }, ms);
  }

  #wake(target: string, w: Window): void {
    const waiters = w.waiters;
    if (w.timer !== undefined && waiters !== undefined) {
      this.#core.clock.clearTimeout(w.timer);
      w.timer = undefined;
    }
    w.waiters = undefined;
    if (w.inFlight === 0) this.#windows.delete(target); // nothing outstanding: forget the pair (bounded map)
    if (waiters !== undefined) for (const resolve of waiters) resolve();
  }

  /** Resolves when the local `cell`'s mailbox has room. */
  readyLocal(cell: ActorCell): Promise<void> {
    if (cell.mailbox.room > 0 || cell.state === "stopped") return Promise.resolve();
    return new Promise((resolve) => {
      const waiting = this.#localWaiters.get(cell);
      if (waiting === undefined) this.#localWaiters.set(cell, [resolve]);
      else waiting.push(resolve);
    });
  }

  /** A local actor drained its mailbox (or stopped): wake the senders waiting on it. */
  cellIdle(cell: ActorCell): void {
    if (this.#localWaiters.size === 0) return;
    const waiting = this.#localWaiters.get(cell);
    if (waiting === undefined) return;
    this.#localWaiters.delete(cell);
    for (const resolve of waiting) resolve();
  }

  // ---- receiving side -----------------------------------------------------------------------

  /**
   * A remote tell that came with reply subject `replyTo` was handled (or given up): credit it, batched.
   * Once a pair reaches `tellCreditBatch`, every pending credit leaves right after the current run of
   * handlers (a microtask), so one read from the socket costs one credit message per sender, not one
   * per batch: measured, a publish per 32 tells spent ~10% of the receiver's CPU in socket writes.
   */
  handled(replyTo: string): void {
    const n = (this.#uncredited.get(replyTo) ?? 0) + 1;
    this.#uncredited.set(replyTo, n);
    if (n >= this.#core.options.tellCreditBatch) {
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(this.flushCredits);
      }
      return;
    }
    this.#grantTimer ??= this.#core.clock.setTimeout(this.flushCredits, this.#core.options.tellCreditDelayMs);
  }

  /** Sends every pending credit now (after a batch, on the delay timer, and at node close). */
  readonly flushCredits = (): void => {
    this.#flushQueued = false;
    if (this.#grantTimer !== undefined) this.#core.clock.clearTimeout(this.#grantTimer);
    this.#grantTimer = undefined;
    if (this.#uncredited.size === 0) return;
    for (const [subject, n] of this.#uncredited) this.#publish(subject, encodeCredit(n));
    this.#uncredited.clear();
  };

  /** Publishes a credit; never throws (a closed connection, a forged reply subject). */
  #publish(subject: string, data: Uint8Array): void {
    const nc = this.#core.nc;
    if (nc.isClosed()) return;
    try {
      nc.publish(subject, data);
    } catch (error) {
      this.#core.logger.debug("tell credit not published", { subject: subject.slice(0, 256), error });
    }
  }

  /** Stops timers and releases every waiter (node close: sends fail with ERR_NODE_STOPPED afterwards). */
  close(): void {
    this.flushCredits();
    for (const [target, w] of this.#windows) {
      w.inFlight = 0;
      this.#wake(target, w);
    }
    for (const cell of [...this.#localWaiters.keys()]) this.cellIdle(cell);
  }
}
