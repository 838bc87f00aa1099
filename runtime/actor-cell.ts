import type { Context } from "@opentelemetry/api";
import type { z } from "zod";
import { TetherError, isTetherError } from "../protocols/index.ts";
import type { ActorClass, ActorInstance } from "./actor-types.ts";
import type { ScopeToken } from "./execution-scope.ts";
import { Mailbox, type MailboxLane } from "./mailbox.ts";

/** The outcome sent back to an asker. */
export type ReplyOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: TetherError };

/** One message waiting in a mailbox, already parsed by the actor's schema. */
export interface Delivery {
  readonly body: unknown;
  readonly messageType: string | undefined;
  readonly id: string;
  readonly from: string | undefined;
  /** Present for asks (and for tells whose sender wants failure reports). */
  readonly reply: ((outcome: ReplyOutcome) => void) | undefined;
  readonly expectsReply: boolean;
  /** Trace context of the receive (or local send) span. */
  readonly trace: Context | undefined;
  /** Target subject (dead-letter records). */
  readonly subject: string;
  /** The verified ECT the message carried, if any. */
  readonly incoming: ScopeToken | undefined;
}

export type CellState = "starting" | "running" | "stopping" | "stopped";

/** What a cell needs from its node, passed in (no reaching into the node). */
export interface CellHost {
  /** Builds the context, runs `handle` (with its span) and returns the handler's value. */
  invoke(cell: ActorCell, delivery: Delivery, signal: () => AbortSignal): Promise<unknown>;
  onFailure(cell: ActorCell, delivery: Delivery, error: unknown): void;
  onIdle(cell: ActorCell): void;
}

/**
 * Hosts one actor instance: its mailbox and the loop that hands it one message at a time.
 * A failing handler never throws out of the cell: it becomes an error reply and a failure report.
 */
export class ActorCell {
  readonly id: string;
  readonly actorClass: ActorClass;
  readonly instance: ActorInstance;
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

  /** Queues a delivery (throws ERR_MAILBOX_FULL) and starts the loop if idle. */
  enqueue(delivery: Delivery, lane: MailboxLane): void {
    this.mailbox.offer(delivery, lane);
    if (!this.#running && this.state === "running") void this.#loop();
  }

  /** Starts processing messages queued before the actor was running. */
  resume(): void {
    if (!this.#running && this.mailbox.size > 0) void this.#loop();
  }

  /** Aborts the handler in flight, if any, through `ctx.signal`. */
  abortCurrent(reason: TetherError): void {
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      for (let delivery = this.mailbox.take(); delivery !== undefined; delivery = this.mailbox.take()) {
        await this.#process(delivery);
        if (this.state === "stopped") break;
      }
    } finally {
      this.#running = false;
      this.#host.onIdle(this);
    }
  }

  async #process(delivery: Delivery): Promise<void> {
    this.#controller = undefined;
    this.#abortReason = undefined;
    const signal = (): AbortSignal => {
      if (this.#controller === undefined) {
        this.#controller = new AbortController();
        if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
      }
      return this.#controller.signal;
    };
    try {
      const value = await this.#host.invoke(this, delivery, signal);
      delivery.reply?.({ ok: true, value });
    } catch (error) {
      const wrapped = toHandlerError(this.id, error, this.#abortReason);
      delivery.reply?.({ ok: false, error: wrapped });
      this.#host.onFailure(this, delivery, error);
    } finally {
      this.#controller = undefined;
    }
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
