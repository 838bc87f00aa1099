import type { Msg, MsgHdrs } from "@nats-io/transport-node";
import { TetherError, decodeBody, encodeBody, isValidToken } from "../../protocols/index.ts";
import type { ReplyOutcome } from "../actor/actor-cell.ts";
import type { NodeCore } from "../node-core.ts";
import type { DeadLetterSink } from "./dead-letter-sink.ts";
import { PendingReplies } from "./pending-replies.ts";
import { errorReplyBody, parseErrorReply, tooLarge } from "./wire-errors.ts";
import { REPLY_HEADERS, errorHeaders, readMsgMeta } from "./wire-headers.ts";

/**
 * Replies in both directions: the node's one reply inbox (answers to its asks, rejection reports of
 * its tells, "no responders" notices) correlated with the asks waiting for them, and the publishing
 * of this node's answers to remote askers.
 */
export class Replies {
  readonly pending: PendingReplies;
  readonly #core: NodeCore;
  readonly #sink: DeadLetterSink;
  readonly #prefix: string;

  constructor(core: NodeCore, sink: DeadLetterSink) {
    this.#core = core;
    this.#sink = sink;
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
    const dot = rest.indexOf(".");
    const id = dot < 0 ? rest : rest.slice(0, dot);
    const tail = dot < 0 ? undefined : rest.slice(dot + 1);
    // a tell's report subject ends with the target's id; anything else there is not ours
    const tellTarget = tail !== undefined && isValidToken(tail) ? tail : undefined;
    if (tail !== undefined && tellTarget === undefined) {
      this.#core.logger.debug("reply inbox: subject with an invalid target dropped", { subject: msg.subject.slice(0, 256) });
      return;
    }
    const meta = readMsgMeta(msg);
    if (meta.status === 503) {
      // no subscriber for the target subject: no live actor has that id
      const target = tellTarget ?? this.pending.targetOf(id);
      if (target === undefined) return; // a late or forged notice for nothing we wait for
      const error = new TetherError("ERR_ACTOR_NOT_FOUND", `no live actor ${target} in network ${this.#core.network}`, { details: { actorId: target } });
      this.#sink.write("ERR_ACTOR_NOT_FOUND", error.message, {
        subject: this.#core.subjects.actor(target),
        target,
        kind: tellTarget === undefined ? "ask" : "tell",
        messageType: undefined,
        from: this.#core.self,
        messageId: id,
        data: undefined,
      });
      if (tellTarget === undefined) this.pending.reject(id, error);
      else this.#core.emit({ type: "undeliverable", messageId: id, target, code: error.code, message: error.message });
      return;
    }
    if (meta.kind === "reply") {
      let value: unknown;
      try {
        value = decodeBody(msg.data);
      } catch (error) {
        this.pending.reject(id, error);
        return;
      }
      if (!this.pending.resolve(id, value)) this.#core.logger.debug("late or unknown reply", { id });
      return;
    }
    if (meta.kind === "error") {
      const error = parseErrorReply(msg.data);
      if (tellTarget !== undefined) {
        this.#core.emit({ type: "undeliverable", messageId: id, target: tellTarget, code: error.code, message: error.message });
      } else if (!this.pending.reject(id, error)) this.#core.logger.debug("late or unknown error reply", { id, code: error.code });
      return;
    }
    this.#core.logger.debug("unexpected message on reply inbox", { subject: msg.subject.slice(0, 256) });
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
      data = encodeBody(outcome.value);
    } catch (cause) {
      this.publishError(replySubject, new TetherError("ERR_MESSAGE_INVALID", `reply of ${actorId} cannot be encoded: ${String(cause)}`, { cause }));
      return;
    }
    if (data.length > this.#core.options.maxPayloadBytes) {
      this.publishError(replySubject, tooLarge(`reply of ${actorId}`, data.length, this.#core.options.maxPayloadBytes));
      return;
    }
    if (!this.#publish(replySubject, data, REPLY_HEADERS)) {
      this.publishError(replySubject, new TetherError("ERR_MESSAGE_TOO_LARGE", `reply of ${actorId} could not be sent`));
    }
  }

  /** Answers a control request (no actor involved). */
  publishOk(replySubject: string, body: unknown): void {
    this.#publish(replySubject, encodeBody(body), REPLY_HEADERS);
  }

  publishError(replySubject: string, error: TetherError): void {
    this.#publish(replySubject, encodeBody(errorReplyBody(error)), errorHeaders(error.code));
  }

  /** Publishes without ever throwing (a closed or draining connection, a payload over the server's limit). */
  #publish(subject: string, data: Uint8Array, headers: MsgHdrs): boolean {
    if (this.#core.nc.isClosed()) return false;
    try {
      this.#core.nc.publish(subject, data, { headers });
      return true;
    } catch (error) {
      this.#core.logger.warn("reply could not be published", { subject: subject.slice(0, 256), error });
      return false;
    }
  }
}
