import type { Msg } from "@nats-io/transport-node";
import {
  NodeControl,
  TetherError,
  assertToken,
  decodeBody,
  decodeEnvelope,
  encodeBody,
  isTetherError,
  type ActivateRequest,
  type PauseRequest,
  type StopRequest,
  type WireEnvelope,
} from "../../protocols/index.ts";
import type { ActorHost } from "../hosting/actor-host.ts";
import type { CellDirectory } from "../hosting/cell-directory.ts";
import type { RegisteredTypes } from "../hosting/registered-types.ts";
import type { Replies } from "../messaging/replies.ts";
import { parseErrorReply } from "../messaging/wire-errors.ts";
import type { NodeCore } from "../node-core.ts";
import type { Registry } from "../stores/registry.ts";

/** Spawns a registered type here (restoring its checkpoint unless `fresh`). */
export type Activate = (actorId: string, className: string, fresh: boolean) => Promise<void>;

/**
 * The node control subject (`tether.<net>.node.<id>`): activate a registered type, pause or stop a
 * local actor, and fence notices from a node that took one of ours over. Also the client side:
 * `request` sends such a control to another node and waits for its answer.
 */
export class ControlPlane {
  readonly #core: NodeCore;
  readonly #directory: CellDirectory;
  readonly #registry: Registry;
  readonly #types: RegisteredTypes;
  readonly #host: ActorHost;
  readonly #replies: Replies;
  readonly #activate: Activate;

  constructor(p: { core: NodeCore; directory: CellDirectory; registry: Registry; types: RegisteredTypes; host: ActorHost; replies: Replies; activate: Activate }) {
    this.#core = p.core;
    this.#directory = p.directory;
    this.#registry = p.registry;
    this.#types = p.types;
    this.#host = p.host;
    this.#replies = p.replies;
    this.#activate = p.activate;
  }

  listen(): void {
    this.#core.nc.subscribe(this.#core.subjects.node(this.#core.id), {
      callback: (_err, msg) => {
        this.#onControl(msg).catch((error: unknown) => this.#core.logger.warn("control message failed", { error }));
      },
    });
  }

  /** Sends a control request to another node and waits for its answer; a refusal rejects with the remote error. */
  async request(nodeId: string, request: ActivateRequest | StopRequest | PauseRequest, timeoutMs: number): Promise<void> {
    const reply = await this.#core.nc.request(this.#core.subjects.node(assertToken("node id", nodeId)), encodeBody(request), { timeout: timeoutMs }).catch((cause: unknown) => {
      throw new TetherError("ERR_NODE_UNREACHABLE", `node ${nodeId} did not answer: ${String(cause)}`, { cause, details: { nodeId } });
    });
    let envelope: WireEnvelope;
    try {
      envelope = decodeEnvelope(reply.data);
    } catch (cause) {
      throw new TetherError("ERR_NODE_UNREACHABLE", `node ${nodeId} sent an unreadable answer: ${String(cause)}`, { cause, details: { nodeId } });
    }
    if (envelope.kind === "error") throw parseErrorReply(envelope.body);
  }

  async #onControl(msg: Msg): Promise<void> {
    let body: unknown;
    try {
      body = decodeBody(msg.data);
    } catch {
      return;
    }
    const parsed = NodeControl.safeParse(body);
    const reply = msg.reply;
    if (!parsed.success) {
      if (reply) this.#replies.publishError(reply, new TetherError("ERR_MESSAGE_INVALID", "unknown node control message"));
      return;
    }
    const control = parsed.data;
    const answer = (outcome: { ok: true; body: unknown } | { ok: false; error: unknown; fallback: "ERR_ACTOR_START_FAILED" | "ERR_ACTOR_STOPPED" }) => {
      if (!reply) return;
      if (outcome.ok) this.#replies.publishOk(reply, outcome.body);
      else this.#replies.publishError(reply, isTetherError(outcome.error) ? outcome.error : new TetherError(outcome.fallback, String(outcome.error)));
    };
    switch (control.type) {
      case "tether.node.v1.activate": {
        try {
          if (this.#types.get(control.className) === undefined) {
            throw new TetherError("ERR_ACTOR_CLASS_INVALID", `node ${this.#core.id} has no registered type ${control.className}`);
          }
          await this.#activate(control.actorId, control.className, control.fresh === true);
          answer({ ok: true, body: { ok: true, nodeId: this.#core.id } });
        } catch (error) {
          answer({ ok: false, error, fallback: "ERR_ACTOR_START_FAILED" });
        }
        return;
      }
      case "tether.node.v1.pause": {
        const hosted = this.#directory.get(control.actorId) !== undefined;
        if (hosted) this.#host.pause(control.actorId, Math.max(0, control.until - this.#core.clock.now()));
        answer({ ok: true, body: { ok: hosted } });
        return;
      }
      case "tether.node.v1.stop": {
        try {
          const cell = this.#directory.get(control.actorId);
          if (cell !== undefined) await this.#host.stop([cell]);
          answer({ ok: true, body: { ok: true } });
        } catch (error) {
          answer({ ok: false, error, fallback: "ERR_ACTOR_STOPPED" });
        }
        return;
      }
      case "tether.node.v1.fence": {
        const cell = this.#directory.get(control.actorId);
        if (cell === undefined) return;
        const owner = await this.#registry.getActor(control.actorId).catch(() => undefined);
        if (owner !== undefined && owner.nodeId !== this.#core.id) await this.#host.fence(cell, `node ${owner.nodeId} took it over`);
        return;
      }
    }
  }
}
