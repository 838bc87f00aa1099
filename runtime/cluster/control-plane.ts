import type { Msg } from "@nats-io/transport-node";
import {
  aRole,
  TetherError,
  decodeBody,
  encodeBody,
  isTetherError,
  mayManageKey,
  type ActivateRequest,
  type FenceNotice,
  type KeyPublishRequest,
  type KeyRevokeRequest,
  type ControlEnvelope,
  type MemberAddRequest,
  type MemberRemoveRequest,
  type PolicySetRequest,
  type PauseRequest,
  type StopRequest,
  type VerifiedControl,
} from "../../protocols/index.ts";
import type { Assurance } from "../assurance/assurance.ts";
import type { ActorHost } from "../hosting/actor-host.ts";
import type { CellDirectory } from "../hosting/cell-directory.ts";
import type { RegisteredTypes } from "../hosting/registered-types.ts";
import type { Replies } from "../messaging/replies.ts";
import type { NodeCore } from "../node-core.ts";
import type { Registry } from "../stores/registry.ts";
import { sendControl } from "./control-client.ts";
import type { ControlGuard } from "./control-guard.ts";
import type { ControlSigner } from "./control-signer.ts";
import type { Governance } from "./governance.ts";

/** Spawns a registered type here (restoring its checkpoint unless `fresh`). */
export type Activate = (actorId: string, className: string, fresh: boolean) => Promise<void>;

/** What `request` sends: node control that expects an answer. */
export type NodeRequest = ActivateRequest | StopRequest | PauseRequest | KeyPublishRequest | KeyRevokeRequest | MemberAddRequest | MemberRemoveRequest | PolicySetRequest;

/** Control operations recorded with old and new values by their owners (Assurance, Governance), not as `control.accepted`. */
const SELF_RECORDED = new Set(["key.publish", "key.revoke", "member.add", "member.remove", "policy.set"]);

type Answer = (outcome: { ok: true; body: unknown } | { ok: false; error: unknown; fallback: "ERR_ACTOR_START_FAILED" | "ERR_ACTOR_STOPPED" | "ERR_REGISTRY_FAILED" }) => void;

/**
 * The node control subject (`tether.<net>.node.<id>`): activate a registered type, pause or stop a
 * local actor, fence notices from a node that took one of ours over, key publish and revoke. Every
 * message must be signed (`ControlGuard`): unsigned, forged, replayed, expired, misdirected and
 * under-privileged control is refused with its own code, answered, and recorded. Also the client
 * side: `request` signs such a control and sends it to another node, `notify` one that needs no answer.
 */
export class ControlPlane {
  readonly #core: NodeCore;
  readonly #directory: CellDirectory;
  readonly #registry: Registry;
  readonly #types: RegisteredTypes;
  readonly #host: ActorHost;
  readonly #replies: Replies;
  readonly #activate: Activate;
  readonly #guard: ControlGuard;
  readonly #signer: ControlSigner;
  readonly #assurance: Assurance;
  readonly #governance: Governance;

  constructor(p: {
    core: NodeCore;
    directory: CellDirectory;
    registry: Registry;
    types: RegisteredTypes;
    host: ActorHost;
    replies: Replies;
    activate: Activate;
    guard: ControlGuard;
    signer: ControlSigner;
    assurance: Assurance;
    governance: Governance;
  }) {
    this.#core = p.core;
    this.#directory = p.directory;
    this.#registry = p.registry;
    this.#types = p.types;
    this.#host = p.host;
    this.#replies = p.replies;
    this.#activate = p.activate;
    this.#guard = p.guard;
    this.#signer = p.signer;
    this.#assurance = p.assurance;
    this.#governance = p.governance;
  }

  listen(): void {
    this.#core.nc.subscribe(this.#core.subjects.node(this.#core.id), {
      callback: (_err, msg) => {
        this.#onControl(msg).catch((error: unknown) => this.#core.logger.warn("control message failed", { error }));
      },
    });
  }

  /**
   * Signs a control request (with `signer`, default this node's key) and sends it to a node, waiting
   * for its answer; a refusal rejects with the remote error, silence with ERR_NODE_UNREACHABLE.
   */
  request(nodeId: string, request: NodeRequest, timeoutMs: number, signer: ControlSigner = this.#signer): Promise<unknown> {
    return sendControl(this.#core.nc, signer, nodeId, request, timeoutMs);
  }

  /** Signs a fence notice with this node's key and publishes it (no answer expected). */
  notify(nodeId: string, notice: FenceNotice): void {
    void this.#signer
      .sign(notice, nodeId)
      .then((envelope) => this.#core.nc.publish(this.#core.subjects.node(nodeId), encodeBody(envelope)))
      .catch((error: unknown) => this.#core.logger.warn("fence notice not sent", { nodeId, actorId: notice.actorId, error }));
  }

  async #onControl(msg: Msg): Promise<void> {
    const reply = msg.reply;
    const refuse = (error: unknown, extra: Record<string, unknown> = {}) => {
      const refusal = this.#guard.refused(error, this.#core.id, extra);
      if (reply) this.#replies.publishError(reply, refusal);
    };
    let input: unknown;
    try {
      input = decodeBody(msg.data);
    } catch (cause) {
      refuse(new TetherError("ERR_CONTROL_MALFORMED", "the control message is not msgpack", { cause }));
      return;
    }
    let verified: VerifiedControl;
    try {
      verified = await this.#guard.verify(input, this.#core.id);
    } catch (error) {
      refuse(error);
      return;
    }
    const control = verified.body;
    const answer: Answer = (outcome) => {
      if (!reply) return;
      if (outcome.ok) this.#replies.publishOk(reply, outcome.body);
      else this.#replies.publishError(reply, isTetherError(outcome.error) ? outcome.error : new TetherError(outcome.fallback, String(outcome.error)));
    };
    const subject = "actorId" in control ? { actorId: control.actorId } : "kid" in control ? { key: control.kid } : {};
    if (!SELF_RECORDED.has(verified.operation)) this.#guard.accepted(verified, this.#core.id, subject);
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
      case "tether.node.v1.key-publish": {
        try {
          const { type: _type, ...request } = control;
          const record = await this.#assurance.publishKey(request, signerOf(verified));
          answer({ ok: true, body: { ok: true, kid: record.kid, role: record.role, owner: record.owner } });
        } catch (error) {
          answer({ ok: false, error, fallback: "ERR_REGISTRY_FAILED" });
        }
        return;
      }
      case "tether.node.v1.key-revoke": {
        const current = await this.#assurance.keys.get(control.kid).catch(() => undefined);
        if (current === undefined) {
          answer({ ok: false, error: new TetherError("ERR_CONFIG_INVALID", `no key ${control.kid} in the registry`), fallback: "ERR_REGISTRY_FAILED" });
          return;
        }
        if (!mayManageKey(verified.role, current.role)) {
          const context = { kid: verified.kid, role: verified.role, owner: verified.owner, operation: verified.operation };
          refuse(new TetherError("ERR_CONTROL_FORBIDDEN", `${aRole(verified.role)} key may not revoke ${aRole(current.role)} key`, { details: context }), { key: control.kid });
          return;
        }
        try {
          const record = await this.#assurance.revokeKey(control.kid, control.reason, signerOf(verified));
          answer({ ok: true, body: { ok: true, kid: record.kid, role: record.role, owner: record.owner } });
        } catch (error) {
          answer({ ok: false, error, fallback: "ERR_REGISTRY_FAILED" });
        }
        return;
      }
      case "tether.node.v1.member-add":
      case "tether.node.v1.member-remove":
      case "tether.node.v1.policy-set": {
        const about = control.type === "tether.node.v1.policy-set" ? { policy: true } : { member: control.member };
        try {
          answer({ ok: true, body: await this.#governance.apply(verified, input as ControlEnvelope) });
        } catch (error) {
          // a refused change (role, limit, keys, last owner, stale) is a violation record like any refused control
          if (isTetherError(error) && !error.retryable) refuse(error, { ...about, ...signerOf(verified), operation: verified.operation });
          else answer({ ok: false, error, fallback: "ERR_REGISTRY_FAILED" });
        }
        return;
      }
    }
  }
}

const signerOf = (verified: VerifiedControl) => ({ kid: verified.kid, role: verified.role, owner: verified.owner });
