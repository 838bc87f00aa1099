import type { Context } from "@opentelemetry/api";
import { TetherError, assertToken } from "../../protocols/index.ts";
import type { ActorCell, Delivery } from "./actor-cell.ts";
import type { ActOptions, ActionCall, ActorClass, ActorContext, ActorRef, CapabilityQuery, DeferredReply, MessageOf, ReplyOf } from "./actor-types.ts";
import type { Clock } from "../support/clock.ts";
import { newScope, type ExecutionScope } from "./execution-scope.ts";
import type { Logger } from "../support/logger.ts";

/** What a handler context needs from its node (one object per node, not per message). */
export interface ContextHost {
  readonly nodeId: string;
  readonly network: string;
  readonly logger: Logger;
  readonly clock: Clock;
  refFrom(id: string, from: string, trace: Context | undefined, scope: ExecutionScope): ActorRef;
  act<T>(call: ActionCall, run: () => Promise<T> | T): Promise<T>;
  checkpoint(cell: ActorCell): Promise<number>;
  defer(cell: ActorCell, delivery: Delivery): DeferredReply;
  negotiate(self: string, peer: string, protocol: string): Promise<string>;
  /** The id of one qualifying provider of a capability (discovery's pick). */
  pickProvider(capability: string, query: CapabilityQuery): Promise<string>;
}

/**
 * The `ctx` a handler receives: a small object with prototype methods (no closures per message).
 * The execution scope (ECT, workflow, meter) is created on first use.
 */
export class HandlerContext implements ActorContext {
  readonly #host: ContextHost;
  readonly #cell: ActorCell;
  readonly #delivery: Delivery;
  readonly #trace: Context | undefined;
  #scope: ExecutionScope | undefined;

  constructor(host: ContextHost, cell: ActorCell, delivery: Delivery, trace: Context | undefined) {
    this.#host = host;
    this.#cell = cell;
    this.#delivery = delivery;
    this.#trace = trace;
  }

  get self(): string {
    return this.#cell.id;
  }
  get nodeId(): string {
    return this.#host.nodeId;
  }
  get network(): string {
    return this.#host.network;
  }
  get log(): Logger {
    return this.#host.logger;
  }
  get clock(): Clock {
    return this.#host.clock;
  }
  get sender(): string | undefined {
    return this.#delivery.from;
  }
  get messageId(): string {
    return this.#delivery.id;
  }
  get expectsReply(): boolean {
    return this.#delivery.expectsReply;
  }
  get signal(): AbortSignal {
    return this.#cell.signal();
  }
  get workflowId(): string | undefined {
    return this.#scope?.wid ?? this.#delivery.incoming?.wid;
  }

  ref<C extends ActorClass = ActorClass>(id: string): ActorRef<MessageOf<C>, ReplyOf<C>> {
    assertToken("actor id", id);
    return this.#host.refFrom(id, this.#cell.id, this.#trace, this.#scopeOf()) as ActorRef<MessageOf<C>, ReplyOf<C>>;
  }

  negotiate(peer: string | { readonly id: string }, protocol: string): Promise<string> {
    try {
      return this.#host.negotiate(this.#cell.id, assertToken("actor id", typeof peer === "string" ? peer : peer.id), protocol);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async refByCapability<C extends ActorClass = ActorClass>(capability: string, query: CapabilityQuery = {}): Promise<ActorRef<MessageOf<C>, ReplyOf<C>>> {
    if (typeof capability !== "string" || capability.length === 0) throw new TetherError("ERR_CONTEXT_MISUSE", "ctx.refByCapability needs a capability name");
    return this.ref<C>(await this.#host.pickProvider(capability, query));
  }

  act<T>(name: string, params: Record<string, unknown>, run: () => Promise<T> | T, options?: ActOptions): Promise<T> {
    return this.#host.act(
      {
        name,
        params,
        actorId: this.#cell.id,
        nodeId: this.#host.nodeId,
        messageId: this.#delivery.id,
        signal: this.#cell.signal(),
        cost: options?.cost,
        compensate: options?.compensate,
        scope: this.#scopeOf(),
        record: {},
      },
      run,
    );
  }

  deferReply(): DeferredReply {
    if (!this.#delivery.expectsReply) throw new TetherError("ERR_CONTEXT_MISUSE", "ctx.deferReply: this message is a tell; there is nobody to answer");
    return this.#host.defer(this.#cell, this.#delivery);
  }

  checkpoint(): Promise<number> {
    return this.#host.checkpoint(this.#cell);
  }

  meter(unit: string, amount: number): void {
    if (typeof unit !== "string" || unit.length === 0 || unit.length > 64 || !Number.isFinite(amount) || amount < 0) {
      throw new TetherError("ERR_CONTEXT_MISUSE", "ctx.meter needs a unit name (1-64 chars) and a non-negative amount");
    }
    const meter = this.#scope?.meter;
    if (meter === undefined) throw new TetherError("ERR_CONTEXT_MISUSE", "ctx.meter can only be called while a ctx.act runs");
    meter.units[unit] = (meter.units[unit] ?? 0) + amount;
  }

  #scopeOf(): ExecutionScope {
    if (this.#scope === undefined) {
      this.#scope = newScope(this.#delivery.incoming);
      if (this.#cell.current === this.#delivery) this.#cell.currentScope = this.#scope;
    }
    return this.#scope;
  }
}
