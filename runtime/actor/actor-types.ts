import type { z } from "zod";
import type { AdvertisementInput, BehaviourProfile, CompensationRequest } from "../../protocols/index.ts";
import type { Clock } from "../support/clock.ts";
import type { ActionRecord, ExecutionScope } from "./execution-scope.ts";
import type { Logger } from "../support/logger.ts";

/**
 * The structural contract between the runtime and actor classes. `actors/` provides the `Actor` base
 * class that implements it; the runtime depends only on this shape (dependencies point one way).
 */
export interface ActorInstance {
  handle(msg: never, ctx: ActorContext): unknown;
  /** Undoes one of this actor's earlier actions during a rollback (must be idempotent). */
  compensate?(request: CompensationRequest, ctx: ActorContext): unknown;
  onStart?(ctx: ActorLifecycleContext): Promise<void> | void;
  onStop?(ctx: ActorLifecycleContext): Promise<void> | void;
  /**
   * Decides an advisory override signal (stop, pause, constrain, takeover at level `advisory`): comply
   * or decline, with a reason. The decision is acknowledged and recorded. Without this hook an
   * advisory signal is complied with. Mandatory and emergency signals never ask.
   */
  onOverride?(signal: OverrideNotice): OverrideDecision | Promise<OverrideDecision>;
}

/** What an actor's `onOverride` hook is shown of a signal. */
export interface OverrideNotice {
  readonly id: string;
  readonly action: string;
  readonly level: string;
  readonly reason: string;
}

export interface OverrideDecision {
  readonly comply: boolean;
  readonly reason?: string;
}

/** A class that can be spawned: a constructor plus a static zod `protocol` for its messages. */
export interface ActorClass<I extends ActorInstance = ActorInstance> {
  // Constructor arguments are the user's dependencies, passed through `spawn(…, { args })`.
  // biome-ignore lint: any is needed to accept every constructor signature
  new (...args: any[]): I;
  readonly protocol: z.ZodType;
  /** Capabilities advertised in the registry (shown by `tether agents ls`). */
  readonly capabilities?: readonly string[];
  /** Versioned capabilities and protocol versions advertised in the registry (see docs/capabilities.md). */
  readonly advertise?: AdvertisementInput | undefined;
  /** The behavioural profile checked before each action and outbound message (absent: none). */
  readonly profile?: BehaviourProfile | undefined;
  readonly name: string;
}

/** What senders pass: the schema's input type. */
export type MessageOf<C extends ActorClass> = z.input<C["protocol"]>;
/** What the handler returns to an asker. */
export type ReplyOf<C extends ActorClass> = Awaited<ReturnType<InstanceType<C>["handle"]>>;

export interface TellOptions {
  /** Deliver on the priority lane (override and supervision signals). */
  readonly priority?: boolean;
}

export interface AskOptions extends TellOptions {
  /** Default: the node's `askTimeoutMs`. */
  readonly timeoutMs?: number;
}

/** A handle on an actor wherever it lives. Its address is the id alone; it never names a host. */
export interface ActorRef<M = unknown, R = unknown> {
  readonly id: string;
  /**
   * One-way, at-most-once. Throws synchronously when the message is invalid to send (too large,
   * node stopped) or, for an actor on this node, when its mailbox is full. A remote rejection
   * (mailbox full, invalid, no such actor) arrives as an `undeliverable` node event and a dead letter.
   *
   * Flow control, as `stream.write()`: the message is always sent; the result is false once the
   * sender should wait for `ready()` before the next tell (this node's credit window towards the
   * actor is used up, or a local actor's mailbox is full). Callers may ignore it: the bounded mailbox
   * still refuses what does not fit.
   */
  tell(msg: M, options?: TellOptions): boolean;
  /**
   * Resolves when a tell to this actor fits: credits came back from its node (or, on this node, its
   * mailbox has room). `for (const m of batch) if (!ref.tell(m)) await ref.ready();` delivers every
   * message, in order, to an actor that keeps up or not.
   */
  ready(): Promise<void>;
  /** Request/reply; rejects with a TetherError (ERR_ASK_TIMEOUT, ERR_MAILBOX_FULL, ERR_ACTOR_NOT_FOUND, …). */
  ask(msg: M, options?: AskOptions): Promise<R>;
  /**
   * At-least-once, through JetStream: resolves once the message is stored (it then survives the loss of
   * the node that was to handle it). Deduplicated by `id` within the stream's duplicate window. The
   * target must be spawned with `durable: true`.
   */
  send(msg: M, options?: SendOptions): Promise<{ readonly id: string; readonly duplicate: boolean }>;
}

export interface SendOptions {
  /** Idempotency key; default a fresh id. Sending the same id twice stores the message once. */
  readonly id?: string;
}

/** A reply to be sent later (see `ctx.deferReply`). Only the first call counts. */
export interface DeferredReply {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Options of one `ctx.act`. */
export interface ActOptions {
  /** Declared cost per unit (e.g. `{ tokens: 800 }`), reserved against quotas before the action runs. */
  readonly cost?: Readonly<Record<string, number>>;
  /**
   * Names the compensation that undoes this action. The action's params and result are stored with
   * its ECT; a rollback later sends them to this actor's `compensate(request, ctx)`.
   */
  readonly compensate?: string;
}

/** Parameters of one significant action (see `ctx.act`). */
export interface ActionCall {
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly actorId: string;
  readonly nodeId: string;
  /** The message whose handling performs the action. */
  readonly messageId: string;
  readonly signal: AbortSignal;
  readonly cost: Readonly<Record<string, number>> | undefined;
  readonly compensate: string | undefined;
  /** The handler's execution scope: incoming ECT, latest minted ECT, workflow id, meter. */
  readonly scope: ExecutionScope;
  /** What the links of the action chain learn about this one action (measured usage, minted ECT). */
  readonly record: ActionRecord;
}

/**
 * Cross-cutting concerns on the action path (verification, approval, ECT minting, metering) are a
 * chain of interceptors; each calls `next()` to continue, or throws to refuse the action.
 */
export type ActionInterceptor = (call: ActionCall, next: () => Promise<unknown>) => Promise<unknown>;

export interface ActorLifecycleContext {
  readonly self: string;
  readonly nodeId: string;
  readonly network: string;
  readonly log: Logger;
  readonly clock: Clock;
}

/**
 * How discovery learns an agent's trust: an explicit port, e.g. `(a) => trust.score(a).then((s) => s.score)`
 * over a `TrustClient`. Scores are in [0, 1]; nothing is global, the caller passes it.
 */
export type TrustScorer = (agentId: string) => Promise<number>;

/** Which providers of a capability qualify (`node.find`, `node.refByCapability`, `ctx.refByCapability`). */
export interface CapabilityQuery {
  /** Only providers whose trust is at least this (needs `trust`). */
  readonly minTrust?: number;
  /** Only providers advertising this message-schema version of the capability. */
  readonly version?: string;
  /** The trust port; without it providers are unscored (and picked uniformly). */
  readonly trust?: TrustScorer;
}

export interface ActorContext extends ActorLifecycleContext {
  /** Sender address of the current message (`node:<id>` for code outside an actor), if known. */
  readonly sender: string | undefined;
  readonly messageId: string;
  /** True when the sender waits for a reply (ask). */
  readonly expectsReply: boolean;
  /** Fires when the runtime aborts the handler in flight (shutdown past its limit, override signals). */
  readonly signal: AbortSignal;
  /** A ref whose messages carry this handler's trace context and sender address. */
  ref<C extends ActorClass = ActorClass>(id: string): ActorRef<MessageOf<C>, ReplyOf<C>>;
  /**
   * The highest version of `protocol` this actor and `peer` both advertise in the registry;
   * ERR_VERSION_NEGOTIATION_FAILED naming both offers when there is none (docs/capabilities.md).
   */
  negotiate(peer: string | { readonly id: string }, protocol: string): Promise<string>;
  /**
   * A ref (as `ref`) to one live provider of `capability`: picked at random weighted by trust when
   * `query.trust` is given, never one whose shared circuit breaker is open; ERR_NO_PROVIDER when none
   * qualifies (docs/capabilities.md).
   */
  refByCapability<C extends ActorClass = ActorClass>(capability: string, query?: CapabilityQuery): Promise<ActorRef<MessageOf<C>, ReplyOf<C>>>;
  /**
   * Runs a significant action through the node's action interceptors: it is metered, recorded as an
   * Execution Context Token whose parent is the ECT of the message being handled, and (regulated
   * profile) appended to the audit ledger before this returns. Messages sent after it carry its ECT.
   */
  act<T>(name: string, params: Record<string, unknown>, run: () => Promise<T> | T, options?: ActOptions): Promise<T>;
  /**
   * Saves the actor's `state` now (JetStream KV), so a later `spawn(…, { restore: true })` on any node
   * resumes from it. Resolves with the checkpoint's revision.
   */
  checkpoint(): Promise<number>;
  /**
   * Answers the current ask later: the handler returns at once (the actor goes on with its next
   * message) and the asker gets the reply when `resolve` or `reject` is called. The ask's timeout still
   * applies on the asker's side. Throws ERR_CONTEXT_MISUSE for a tell.
   */
  deferReply(): DeferredReply;
  /** Reports usage in a user unit (e.g. model tokens) for the action in progress. */
  meter(unit: string, amount: number): void;
  /** The workflow id (ECT `wid`) this message belongs to, once known. */
  readonly workflowId: string | undefined;
}
