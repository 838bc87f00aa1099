import type { JsMsg } from "@nats-io/jetstream";
import type { Context } from "@opentelemetry/api";
import type { z } from "zod";
import { TetherError, isTetherError } from "../../protocols/index.ts";
import type { ActorClass, ActorInstance } from "./actor-types.ts";
import type { ExecutionScope, ScopeToken } from "./execution-scope.ts";
import { Mailbox, type MailboxLane } from "./mailbox.ts";

/** The outcome sent back to an asker. */
export type ReplyOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: TetherError };

/** One message waiting in a mailbox, already parsed by the actor's schema. Plain data: no closures. */
export interface Delivery {
  readonly body: unknown;
  readonly messageType: string | undefined;
  readonly id: string;
  readonly from: string | undefined;
  /** True when the sender waits for a reply (ask). */
  readonly expectsReply: boolean;
  /** A remote asker's reply subject; undefined for tells and for local asks (settled by `id`). */
  readonly replyTo: string | undefined;
  /** A remote tell's fixed reply subject: flow-control credit goes there once it is handled. */
  readonly creditTo?: string | undefined;
  /** Trace context of the receive (or local send) span. */
  readonly trace: Context | undefined;
  /** Target subject (dead-letter records). */
  readonly subject: string;
  /** The verified ECT the message carried, if any. */
  readonly incoming: ScopeToken | undefined;
  /** A runtime control message (a compensation request) rather than one of the actor's own messages. */
  readonly control: boolean;
  /** Set for messages of the at-least-once lane: acknowledged after handling (and a checkpoint). */
  readonly durable?: JsMsg;
}

export type CellState = "starting" | "running" | "stopping" | "stopped";

/** What a cell needs from its node, passed in (no reaching into the node). */
export interface CellHost {
  /** Re-creates a passivated actor's instance from its checkpoint. */
  revive(cell: ActorCell): Promise<void>;
  /** Runs `handle` for one delivery (with its context and span); returns its value or a promise of it. */
  invoke(cell: ActorCell, delivery: Delivery): unknown;
  /** Sends the outcome to the asker, if any. */
  settle(cell: ActorCell, delivery: Delivery, outcome: ReplyOutcome): void;
  onFailure(cell: ActorCell, delivery: Delivery, error: unknown): void;
  onIdle(cell: ActorCell): void;
}

/** Messages handled in one synchronous run before yielding to I/O. */
const DRAIN_BUDGET = 256;

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  (typeof v === "object" || typeof v === "function") && v !== null && typeof (v as { then?: unknown }).then === "function";

/**
 * Hosts one actor instance: its mailbox and the loop that hands it one message at a time.
 * While handlers return plain values the mailbox drains synchronously (replies then leave in one
 * socket write); the loop waits only when a handler returns a promise. A failing handler never
 * throws out of the cell: it becomes an error reply and a failure report.
 */
export class ActorCell {
  readonly id: string;
  readonly actorClass: ActorClass;
  /** The actor instance; replaced when a passivated actor is revived. */
  instance: ActorInstance;
  /** True while passivated: state checkpointed, instance dropped; the next message revives it. */
  passivated = false;
  /** Paused (quarantined) until this time (epoch ms): new messages are refused with ERR_ACTOR_PAUSED. */
  pausedUntil = 0;
  /**
   * Held by the override plane: `stop` (refuses new work, keeps what is queued), `pause` (finishes the
   * current message, holds the mailbox), `fencing` (the node is re-reading the active overrides after a
   * disconnect). While any hold is set, no message of the actor's own is taken from the mailbox; control
   * messages (signed compensation requests: the operator's own recovery) still run, except while fencing.
   */
  readonly holds = new Set<"stop" | "pause" | "fencing" | "takeover">();
  /** Run-time limits set by a `constrain` override (checked by `ctx.act`). */
  constraints: unknown;
  /** The delivery whose handler runs now (workflow-scoped overrides match its ECT's wid). */
  current: Delivery | undefined;
  /** The execution scope of the handler in flight, once it made one (an override's ack names its latest ECT). */
  currentScope: ExecutionScope | undefined;
  /** Sees each delivery as it is queued (the override gate: a message of a held workflow brings the actor into its scope). */
  screen: ((delivery: Delivery) => void) | undefined;
  /** Messages taken from the mailbox so far (passivation checks nothing was handled while it saved). */
  handled = 0;
  readonly mailbox: Mailbox<Delivery>;
  readonly protocol: z.ZodType;
  state: CellState = "starting";
  /** Inbound messages whose ECT is still being verified; later arrivals queue behind them (order kept). */
  inboundPending = 0;
  inboundTail: Promise<void> = Promise.resolve();
  #running = false;
  #controller: AbortController | undefined;
  #abortReason: TetherError | undefined;
  readonly #host: CellHost;

  constructor(id: string, actorClass: ActorClass, instance: ActorInstance, mailbox: Mailbox<Delivery>, host: CellHost) {
    this.id = id;
    this.actorClass = actorClass;
    this.instance = instance;
    this.mailbox = mailbox;
    this.protocol = actorClass.protocol;
    this.#host = host;
  }

  /** True while a handler runs or messages wait. */
  get busy(): boolean {
    return this.#running || this.mailbox.size > 0;
  }

  /** Queues a delivery (throws ERR_MAILBOX_FULL) and schedules the loop if idle. */
  enqueue(delivery: Delivery, lane: MailboxLane): void {
    this.mailbox.offer(delivery, delivery.control ? "control" : lane);
    this.screen?.(delivery);
    this.#schedule();
  }

  /** Starts processing messages queued before the actor was running. */
  resume(): void {
    if (this.mailbox.size > 0) this.#schedule();
  }

  /** The AbortSignal of the handler in flight (created on first use). */
  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Aborts the handler in flight, if any, through `ctx.signal`. */
  abortCurrent(reason: TetherError): void {
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** Sets or clears one hold; clearing the last one starts the loop again. */
  hold(kind: "stop" | "pause" | "fencing" | "takeover", on: boolean): void {
    if (on) this.holds.add(kind);
    else if (this.holds.delete(kind)) this.resume(); // resume schedules only what the remaining holds allow
  }

  /** True when a hold is set but control messages may still run (every hold is the override's, none is fencing). */
  get #controlOnly(): boolean {
    return this.holds.size > 0 && !this.holds.has("fencing");
  }

  /** The next delivery the loop may take now, given the holds. */
  #next(): Delivery | undefined {
    if (this.state === "stopped") return undefined;
    if (this.holds.size === 0) return this.mailbox.take();
    return this.#controlOnly ? this.mailbox.takeControl() : undefined;
  }

  #schedule(): void {
    if (this.#running || this.state !== "running") return;
    if (this.holds.size > 0 && !(this.#controlOnly && this.mailbox.controlSize > 0)) return;
    this.#running = true;
    queueMicrotask(this.#drain); // never run a handler inside the sender's call stack
  }

  readonly #drain = (): void => {
    if (this.passivated && this.mailbox.size > 0) {
      this.#host.revive(this).then(this.#drain, (error: unknown) => {
        // no handler ran: an abort left over from an earlier message must not relabel this failure
        for (const d of this.mailbox.drainAll()) this.#fail(d, error, undefined);
        this.#running = false;
        this.#host.onIdle(this);
      });
      return;
    }
    for (let budget = DRAIN_BUDGET; budget > 0; budget--) {
      const delivery = this.#next();
      if (delivery === undefined) {
        this.current = undefined;
        this.#running = false;
        this.#host.onIdle(this);
        return;
      }
      this.#controller = undefined;
      this.#abortReason = undefined;
      this.handled++;
      this.current = delivery;
      this.currentScope = undefined;
      let result: unknown;
      try {
        result = this.#host.invoke(this, delivery);
      } catch (error) {
        this.#fail(delivery, error, this.#abortReason);
        continue;
      }
      if (isThenable(result)) {
        result.then(
          (value) => {
            this.#host.settle(this, delivery, { ok: true, value });
            this.#drain();
          },
          (error: unknown) => {
            this.#fail(delivery, error, this.#abortReason);
            this.#drain();
          },
        );
        return;
      }
      this.#host.settle(this, delivery, { ok: true, value: result });
    }
    setImmediate(this.#drain); // budget spent: let I/O in, then carry on
  };

  /** Settles a failed delivery; `aborted` is the abort reason of the handler that failed, if it was aborted. */
  #fail(delivery: Delivery, error: unknown, aborted: TetherError | undefined): void {
    this.#host.settle(this, delivery, { ok: false, error: toHandlerError(this.id, error, aborted) });
    this.#host.onFailure(this, delivery, error);
  }
}

const toHandlerError = (actorId: string, error: unknown, aborted: TetherError | undefined): TetherError => {
  if (aborted !== undefined) {
    return new TetherError("ERR_HANDLER_ABORTED", `handler of ${actorId} was aborted: ${aborted.message}`, { cause: error });
  }
  if (isTetherError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TetherError("ERR_ACTOR_HANDLER_FAILED", `actor ${actorId} failed: ${message}`, {
    cause: error,
    details: { actorId, error: message.slice(0, 1024) },
  });
};
