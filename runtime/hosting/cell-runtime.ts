import { context as otelContext, type Context } from "@opentelemetry/api";
import { TetherError, encodeBody, isTetherError, type CompensationRequest, type FailureNotice, type SignedCompensation } from "../../protocols/index.ts";
import type { ActorCell, CellHost, Delivery, ReplyOutcome } from "../actor/actor-cell.ts";
import type { CapabilityQuery, DeferredReply } from "../actor/actor-types.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import { HandlerContext, type ContextHost } from "../actor/handler-context.ts";
import type { ActionChain } from "../interceptors/action-chain.ts";
import type { Outbound } from "../messaging/outbound.ts";
import type { Replies } from "../messaging/replies.ts";
import type { TellFlow } from "../messaging/tell-flow.ts";
import type { NodeCore } from "../node-core.ts";
import { contextWithSpan, endSpan } from "../telemetry/tracing.ts";
import type { CellDirectory } from "./cell-directory.ts";
import type { Checkpoints } from "./checkpoints.ts";
import type { DurableDelivery } from "./durable-delivery.ts";
import type { Passivation } from "./passivation.ts";

/** The lease check the cell runtime makes before handling (a node whose lease lapsed re-asserts its claims first). */
export interface LeaseGuard {
  lapsed(): boolean;
  ensure(): Promise<void>;
}

/** Checks a compensation request's signed grant; throws the refusal (already recorded) when it fails. */
export type VerifyCompensation = (grant: unknown, actorId: string, request: CompensationRequest) => Promise<void>;

/**
 * What a cell needs from its node, in one place: running a handler (with its `ctx`, span and
 * compensation), sending its outcome (durable ack, remote reply, local ask), failure reports,
 * idle notifications and passivation.
 */
export class CellRuntime implements CellHost {
  readonly #core: NodeCore;
  readonly #directory: CellDirectory;
  readonly #lease: LeaseGuard;
  readonly #replies: Replies;
  readonly #flow: TellFlow;
  readonly #durable: DurableDelivery;
  readonly #passivation: Passivation;
  readonly #contextHost: ContextHost;
  readonly #verifyCompensation: VerifyCompensation;
  /** Asks whose handler deferred its reply (ctx.deferReply): the handler's return value is not the answer. */
  readonly #deferred = new WeakSet<Delivery>();
  /** Asks a takeover handed to a human: answered later with the human's result (`settleHandedOver`), whatever the handler did. */
  readonly #handedOver = new WeakSet<Delivery>();
  readonly #idleWaiters = new Set<() => void>();

  constructor(p: {
    core: NodeCore;
    directory: CellDirectory;
    lease: LeaseGuard;
    replies: Replies;
    flow: TellFlow;
    durable: DurableDelivery;
    passivation: Passivation;
    checkpoints: Checkpoints;
    outbound: Pick<Outbound, "ref">;
    act: ActionChain;
    verifyCompensation: VerifyCompensation;
    /** Protocol negotiation for `ctx.negotiate` (the assembly wires it to the registry). */
    negotiate: (self: string, peer: string, protocol: string) => Promise<string>;
    /** Capability discovery for `ctx.refByCapability` (the assembly wires it to the node's Discovery). */
    pickProvider: (capability: string, query: CapabilityQuery) => Promise<string>;
  }) {
    this.#verifyCompensation = p.verifyCompensation;
    this.#core = p.core;
    this.#directory = p.directory;
    this.#lease = p.lease;
    this.#replies = p.replies;
    this.#flow = p.flow;
    this.#durable = p.durable;
    this.#passivation = p.passivation;
    const core = p.core;
    this.#contextHost = {
      nodeId: core.id,
      network: core.network,
      logger: core.logger,
      clock: core.clock,
      refFrom: (id, from, trace, scope) => p.outbound.ref(id, from, trace, scope),
      act: p.act,
      checkpoint: (cell) => p.checkpoints.save(cell),
      defer: (cell, delivery) => this.#defer(cell, delivery),
      negotiate: p.negotiate,
      pickProvider: p.pickProvider,
    };
  }

  invoke(cell: ActorCell, delivery: Delivery): unknown {
    if (this.#lease.lapsed()) return this.#lease.ensure().then(() => this.#invokeOwned(cell, delivery));
    return this.#invokeOwned(cell, delivery);
  }

  settle(cell: ActorCell, delivery: Delivery, outcome: ReplyOutcome): void {
    if (delivery.creditTo !== undefined) this.#flow.handled(delivery.creditTo); // a remote tell is done, whatever its outcome
    if (this.#deferred.has(delivery) && outcome.ok) return; // answered later through ctx.deferReply
    if (this.#handedOver.has(delivery)) return; // a human answers it (takeover)
    this.#settleNow(cell, delivery, outcome);
  }

  /** A takeover gave this ask to a human: nothing the actor does answers it any more. */
  handOver(delivery: Delivery): void {
    this.#handedOver.add(delivery);
  }

  /** Answers an ask handed to a human with the human's outcome (once). */
  settleHandedOver(cell: ActorCell, delivery: Delivery, outcome: ReplyOutcome): void {
    if (!this.#handedOver.delete(delivery)) return;
    this.#settleNow(cell, delivery, outcome);
  }

  onFailure(cell: ActorCell, delivery: Delivery, error: unknown): void {
    const core = this.#core;
    core.logger.warn("actor handler failed", { actorId: cell.id, messageId: delivery.id, error });
    if (!core.nc.isClosed()) {
      const notice: FailureNotice = {
        type: "tether.node.v1.failure",
        actorId: cell.id,
        nodeId: core.id,
        messageId: delivery.id.slice(0, 128),
        code: isTetherError(error) ? error.code : "ERR_ACTOR_HANDLER_FAILED",
      };
      try {
        core.nc.publish(core.subjects.failures(cell.id), encodeBody(notice));
      } catch (publishError) {
        core.logger.warn("failure notice not published", { actorId: cell.id, error: publishError });
      }
    }
    core.emit({ type: "actor-failed", actorId: cell.id, messageId: delivery.id, error });
  }

  onIdle(cell: ActorCell): void {
    this.#passivation.arm(cell);
    this.#flow.cellIdle(cell);
    if (this.#idleWaiters.size > 0) for (const waiter of [...this.#idleWaiters]) waiter();
  }

  revive(cell: ActorCell): Promise<void> {
    return this.#passivation.revive(cell);
  }

  /** Waits until none of `cells` runs a handler or has messages queued; false on timeout. */
  waitIdle(cells: readonly ActorCell[], timeoutMs: number): Promise<boolean> {
    const idle = () => cells.every((c) => !c.busy);
    if (idle()) return Promise.resolve(true);
    const clock = this.#core.clock;
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => finish(false), timeoutMs);
      const check = () => {
        if (idle()) finish(true);
      };
      const finish = (ok: boolean) => {
        clock.clearTimeout(timer);
        this.#idleWaiters.delete(check);
        resolve(ok);
      };
      this.#idleWaiters.add(check);
    });
  }

  #defer(cell: ActorCell, delivery: Delivery): DeferredReply {
    this.#deferred.add(delivery);
    let done = false;
    const settle = (outcome: ReplyOutcome) => {
      if (done) return;
      done = true;
      this.#settleNow(cell, delivery, outcome);
    };
    return {
      resolve: (value) => settle({ ok: true, value }),
      reject: (error) =>
        settle({ ok: false, error: isTetherError(error) ? error : new TetherError("ERR_ACTOR_HANDLER_FAILED", `actor ${cell.id} failed: ${String(error)}`, { cause: error }) }),
    };
  }

  /** Sends a handler's outcome: durable ack/nak, a remote reply, or a local ask's settlement. */
  #settleNow(cell: ActorCell, delivery: Delivery, outcome: ReplyOutcome): void {
    if (delivery.durable !== undefined) {
      void this.#durable.settle(cell, delivery, outcome);
      return;
    }
    if (delivery.replyTo !== undefined) this.#replies.replyRemote(delivery.replyTo, cell.id, outcome);
    else if (delivery.expectsReply) {
      if (outcome.ok) this.#replies.pending.resolve(delivery.id, outcome.value);
      else this.#replies.pending.reject(delivery.id, outcome.error);
    }
  }

  /** Runs one delivery's handler, unless this copy was fenced meanwhile. */
  #invokeOwned(cell: ActorCell, delivery: Delivery): unknown {
    if (!this.#directory.owns(cell)) throw new TetherError("ERR_ACTOR_NOT_FOUND", `actor ${cell.id} moved to another node`);
    if (delivery.control) return this.#compensate(cell, delivery);
    if (this.#durable.applied(cell, delivery)) return undefined; // a redelivered copy of a message handled meanwhile: settled, not handled again
    const tracing = this.#core.tracing;
    const span = tracing.startHandle(cell.id, delivery.messageType, delivery.trace, delivery.id);
    if (span === undefined) return cell.instance.handle(delivery.body as never, new HandlerContext(this.#contextHost, cell, delivery, delivery.trace));
    const traceCtx = contextWithSpan(span, delivery.trace) as Context;
    const ctx = new HandlerContext(this.#contextHost, cell, delivery, traceCtx);
    return Promise.resolve(otelContext.with(traceCtx, () => cell.instance.handle(delivery.body as never, ctx))).then(
      (value) => {
        span?.end();
        return value;
      },
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    );
  }

  /**
   * Runs an actor's compensate() for a rollback, itself as a significant action: its ECT's parent is the
   * action being undone, so the DAG records both.
   */
  async #compensate(cell: ActorCell, delivery: Delivery): Promise<unknown> {
    const { request, grant } = delivery.body as SignedCompensation;
    // nobody on the bus may make an actor undo its work: the grant must be signed by a role that may compensate
    await this.#verifyCompensation(grant, cell.id, request);
    const compensate = cell.instance.compensate;
    if (typeof compensate !== "function") {
      throw new TetherError("ERR_ROLLBACK_NOT_COMPENSABLE", `actor ${cell.id} (${cell.actorClass.name}) has no compensate() method`);
    }
    const undone: ScopeToken = { token: "", jti: request.jti, wid: request.wid, level: "L1", receipt: undefined };
    const ctx = new HandlerContext(this.#contextHost, cell, { ...delivery, incoming: undone }, delivery.trace);
    return ctx.act(`compensate:${request.compensation}`, { jti: request.jti, action: request.action, attempt: request.attempt }, () =>
      compensate.call(cell.instance, request, ctx),
    );
  }
}
