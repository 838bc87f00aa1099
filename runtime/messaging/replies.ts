import type { Msg } from "@nats-io/transport-node";
import { TetherError, decodeEnvelope, encodeError, encodeReply, isValidToken, type WireEnvelope } from "../../protocols/index.ts";
import type { ReplyOutcome } from "../actor/actor-cell.ts";
import type { NodeCore } from "../node-core.ts";
import type { DeadLetterSink } from "./dead-letter-sink.ts";
import { PendingReplies } from "./pending-replies.ts";
import type { TellFlow } from "./tell-flow.ts";
import { errorReplyBody, parseErrorReply, tooLarge } from "./wire-errors.ts";

/**
 * Replies in both directions: the node's one reply inbox (answers to its asks, rejection reports and
 * flow-control credits of its tells, "no responders" notices) correlated with the asks waiting for
 * them, and the publishing of this node's answers to remote askers. Replies are envelopes in the body
 * (`protocols/wire-envelope.ts`); the only header read here is the server's 503 status.
 */
export class Replies {
  readonly pending: PendingReplies;
  readonly #core: NodeCore;
  readonly #sink: DeadLetterSink;
  readonly #prefix: string;
  readonly #flow: TellFlow;

  readonly #registered: ((actorId: string) => Promise<boolean>) | undefined;

  /**
   * `registered` says whether an actor id is claimed in the registry by a node that is alive or died
   * lately: an ask that meets "no responders" for such an actor (its node died and a survivor has not
   * taken it over yet, or its new host is still subscribing) is sent again with backoff until its
   * deadline, instead of failing at once.
   */
  constructor(core: NodeCore, sink: DeadLetterSink, flow: TellFlow, registered?: (actorId: string) => Promise<boolean>) {
    this.#core = core;
    this.#sink = sink;
    this.#flow = flow;
    this.#registered = registered;
    this.pending = new PendingReplies(core.clock);
    this.#prefix = core.subjects.replyPrefix(core.id);
  }

  /** The reply subject prefix of this node's inbox. */
  get prefix(): string {
    return this.#prefix;
  }

  /** Subscribes the inbox. Its callback never throws: a hostile message is logged and dropped. */
  listen(): void {
    this.#core.nc.subscribe(this.#core.subjects.replyInbox(this.#core.id), {
      callback: (_err, msg) => {
        try {
          this.#onInbox(msg);
        } catch (error) {
          this.#core.logger.warn("unreadable message on the reply inbox dropped", { subject: msg.subject.slice(0, 256), error });
        }
      },
    });
  }

  #onInbox(msg: Msg): void {
    const rest = msg.subject.slice(this.#prefix.length);
    let id: string | undefined;
    let tellTarget: string | undefined;
    if (rest.startsWith("t.")) {
      // a tell's fixed reply subject `t.<target>`: credits, rejection reports, "no responders"
      tellTarget = rest.slice(2);
      if (!isValidToken(tellTarget)) {
        this.#core.logger.debug("reply inbox: subject with an invalid target dropped", { subject: msg.subject.slice(0, 256) });
        return;
      }
    } else id = rest; // only ever a key into the pending map: an unknown one finds nothing
    const status = msg.headers?.code ?? 0;
    if (status === 503) {
      // no subscriber for the target subject: no live actor has that id
      const target = tellTarget ?? (id === undefined ? undefined : this.pending.ask(id)?.target);
      if (target === undefined) return; // a late or forged notice for nothing we wait for
      if (id !== undefined) this.#noResponders(id, target);
      else this.#notFound(undefined, target, 0);
      return;
    }
    if (status !== 0) {
      this.#core.logger.debug("reply inbox: status message dropped", { subject: msg.subject.slice(0, 256), status });
      return;
    }
    let envelope: WireEnvelope;
    try {
      envelope = decodeEnvelope(msg.data);
    } catch (error) {
      if (id !== undefined) this.pending.reject(id, error);
      else this.#core.logger.debug("reply inbox: unreadable tell report dropped", { subject: msg.subject.slice(0, 256), error });
      return;
    }
    if (tellTarget !== undefined) {
      if (envelope.kind === "credit") this.#flow.credit(tellTarget, envelope.n);
      else if (envelope.kind === "error") {
        const error = parseErrorReply(envelope.body);
        this.#flow.credit(tellTarget, 1);
        this.#core.emit({ type: "undeliverable", messageId: envelope.id, target: tellTarget, code: error.code, message: error.message });
      } else this.#core.logger.debug("reply inbox: unexpected tell report dropped", { kind: envelope.kind });
      return;
    }
    if (id === undefined) return;
    if (envelope.kind === "reply") {
      if (!this.pending.resolve(id, envelope.body)) this.#core.logger.debug("late or unknown reply", { id });
      return;
    }
    if (envelope.kind === "error") {
      const error = parseErrorReply(envelope.body);
      if (!this.pending.reject(id, error)) this.#core.logger.debug("late or unknown error reply", { id, code: error.code });
      return;
    }
    this.#core.logger.debug("unexpected message on reply inbox", { subject: msg.subject.slice(0, 256), kind: envelope.kind });
  }

  /**
   * An ask nobody subscribed to. Sent again after 50, 100, 200… (at most 1,000) ms while its target is
   * registered and its deadline allows (a "no responders" notice means nobody received it, so sending
   * again cannot deliver it twice); else it fails with ERR_ACTOR_NOT_FOUND and a dead letter.
   */
  #noResponders(id: string, target: string): void {
    const ask = this.pending.ask(id);
    if (ask === undefined) return;
    const clock = this.#core.clock;
    const delay = Math.min(1_000, 50 * 2 ** ask.resent);
    if (this.#registered === undefined || ask.resend === undefined || clock.now() + delay >= ask.deadline) {
      this.#notFound(id, target, ask.resent);
      return;
    }
    this.#registered(target).then(
      (registered) => {
        if (this.pending.ask(id) === undefined) return;
        if (!registered) {
          this.#notFound(id, target, ask.resent);
          return;
        }
        const timer = clock.setTimeout(() => {
          if (this.#core.nc.isClosed()) return;
          try {
            this.pending.resend(id);
          } catch (cause) {
            this.pending.reject(id, new TetherError("ERR_TRANSPORT_FAILED", `publish to ${target} failed: ${String(cause)}`, { cause }));
          }
        }, delay);
        timer.unref?.();
      },
      () => {
        if (this.pending.ask(id) !== undefined) this.#notFound(id, target, ask.resent);
      },
    );
  }

  /** No live actor `target`: a dead letter, then the ask's rejection or the tell's undeliverable event. */
  #notFound(id: string | undefined, target: string, resent: number): void {
    const after = resent === 0 ? "" : ` (sent ${resent + 1} times while it was registered)`;
    const error = new TetherError("ERR_ACTOR_NOT_FOUND", `no live actor ${target} in network ${this.#core.network}${after}`, { details: { actorId: target, attempts: resent + 1 } });
    this.#sink.write("ERR_ACTOR_NOT_FOUND", error.message, {
      subject: this.#core.subjects.actor(target),
      target,
      kind: id === undefined ? "tell" : "ask",
      messageType: undefined,
      from: this.#core.self,
      messageId: id,
      data: undefined,
    });
    if (id !== undefined) this.pending.reject(id, error);
    else {
      this.#flow.credit(target, 1);
      this.#core.emit({ type: "undeliverable", messageId: undefined, target, code: error.code, message: error.message });
    }
  }

  /** Sends a handler's outcome to a remote asker. */
  replyRemote(replySubject: string, actorId: string, outcome: ReplyOutcome): void {
    if (this.#core.nc.isClosed()) return;
    if (!outcome.ok) {
      this.publishError(replySubject, outcome.error);
      return;
    }
    let data: Uint8Array;
    try {
      data = encodeReply(outcome.value);
    } catch (cause) {
      this.publishError(replySubject, new TetherError("ERR_MESSAGE_INVALID", `reply of ${actorId} cannot be encoded: ${String(cause)}`, { cause }));
      return;
    }
    if (data.length > this.#core.options.maxPayloadBytes) {
      this.publishError(replySubject, tooLarge(`reply of ${actorId}`, data.length, this.#core.options.maxPayloadBytes));
      return;
    }
    if (!this.#publish(replySubject, data)) {
      this.publishError(replySubject, new TetherError("ERR_MESSAGE_TOO_LARGE", `reply of ${actorId} could not be sent`));
    }
  }

  /** Answers a control request (no actor involved). */
  publishOk(replySubject: string, body: unknown): void {
    this.#publish(replySubject, encodeReply(body));
  }

  /** An error reply to an ask, or (with the tell's `id`) a tell's rejection report. */
  publishError(replySubject: string, error: TetherError, tellId?: string): void {
    this.#publish(replySubject, encodeError(errorReplyBody(error), tellId));
  }

  /** Publishes without ever throwing (a closed or draining connection, a payload over the server's limit). */
  #publish(subject: string, data: Uint8Array): boolean {
    if (this.#core.nc.isClosed()) return false;
    try {
      this.#core.nc.publish(subject, data);
      return true;
    } catch (error) {
      this.#core.logger.warn("reply could not be published", { subject: subject.slice(0, 256), error });
      return false;
    }
  }
}
