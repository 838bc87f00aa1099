import type { Context } from "@opentelemetry/api";
import type { ActorRef, AskOptions, SendOptions, TellOptions } from "../actor/actor-types.ts";
import type { ExecutionScope } from "../actor/execution-scope.ts";

/** Marks a ref whose sends take the caller's active OpenTelemetry context. */
export const ACTIVE_CONTEXT = Symbol("active-context");

/** Where a ref's sends go (the node's outbound room). */
export interface SendPort {
  tell(ref: Ref, msg: unknown, options: TellOptions | undefined): boolean;
  ask(ref: Ref, msg: unknown, options: AskOptions | undefined): Promise<unknown>;
  ready(ref: Ref): Promise<void>;
  sendDurable(ref: Ref, msg: unknown, options: SendOptions | undefined): Promise<{ id: string; duplicate: boolean }>;
}

/** An ActorRef: plain fields plus four methods (no closures per ref). */
export class Ref implements ActorRef {
  readonly #port: SendPort;
  constructor(
    port: SendPort,
    readonly id: string,
    readonly subject: string,
    readonly from: string,
    readonly trace: Context | undefined | typeof ACTIVE_CONTEXT,
    readonly scope: ExecutionScope | undefined,
  ) {
    this.#port = port;
  }

  tell(msg: unknown, options?: TellOptions): boolean {
    return this.#port.tell(this, msg, options);
  }

  ready(): Promise<void> {
    return this.#port.ready(this);
  }

  ask(msg: unknown, options?: AskOptions): Promise<unknown> {
    try {
      return this.#port.ask(this, msg, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  send(msg: unknown, options?: SendOptions): Promise<{ id: string; duplicate: boolean }> {
    return this.#port.sendDurable(this, msg, options);
  }
}
