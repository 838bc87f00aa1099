import { TetherError, assertToken, hasCode, isTetherError } from "../protocols/index.ts";
import type { ActorClass, AskOptions, BreakerBoard, MessageOf, Node, ReplyOf } from "../runtime/index.ts";
import { Bulkhead, type BulkheadOptionsInput } from "./bulkhead.ts";
import { CircuitBreaker, type CircuitBreakerOptionsInput } from "./circuit-breaker.ts";

export interface GuardOptions<R> {
  /** Breaker options for this target (defaults: see CircuitBreakerOptions). */
  readonly breaker?: Omit<CircuitBreakerOptionsInput, "name" | "origin">;
  /** In-flight limit for calls from this node to this target. Default: none. */
  readonly bulkhead?: BulkheadOptionsInput;
  /** Answer given instead when the breaker refuses the call (graceful degradation, not a hang). */
  readonly fallback?: (error: TetherError) => R | Promise<R>;
}

/** Errors that say nothing about the target's health (the caller's own mistake): not counted. */
const CALLER_FAULTS = new Set(["ERR_MESSAGE_INVALID", "ERR_MESSAGE_UNKNOWN_TYPE", "ERR_MESSAGE_TOO_LARGE", "ERR_ADDRESS_INVALID"]);


/**
 * Circuit breakers and bulkheads on caller→target edges, with breaker state shared cluster-wide:
 * every local transition is written to JetStream KV (`tether_<net>_breakers`, key `b.<target>`) and
 * every node watching adopts it (the snapshot merge rule keeps all copies converging), so when one
 * caller finds an agent sick, all callers on every node stop calling it together.
 */
export class GuardedCalls implements AsyncDisposable {
  readonly #node: Node;
  readonly #board: BreakerBoard;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #bulkheads = new Map<string, Bulkhead>();
  #stopWatch: (() => void) | undefined;
  #stopObserving: (() => void) | undefined;

  private constructor(node: Node, board: BreakerBoard) {
    this.#node = node;
    this.#board = board;
  }

  static async open(node: Node): Promise<GuardedCalls> {
    const board = await node.breakerBoard();
    const guarded = new GuardedCalls(node, board);
    guarded.#stopWatch = await board.watch((target, snapshot) => guarded.#breakers.get(target)?.applyRemote(snapshot));
    guarded.#stopObserving = node.metrics.observeBreakers(() => [...guarded.#breakers].map(([target, b]) => ({ target, state: b.state })));
    return guarded;
  }

  /** The breaker guarding calls to `target` from this node (created on first use). */
  breaker(target: string, options: GuardOptions<unknown>["breaker"] = {}): CircuitBreaker {
    assertToken("actor id", target);
    let breaker = this.#breakers.get(target);
    if (breaker === undefined) {
      breaker = new CircuitBreaker({ ...options, name: `${this.#node.id}→${target}`, origin: this.#node.id }, this.#node.clock);
      breaker.onTransition((t) => {
        this.#node.metrics.breakerTransition(t.to, t.reason);
        if (t.reason === "remote") return; // adopted from another node: do not publish it back
        const snap = (breaker as CircuitBreaker).snapshot();
        void this.#board.put(target, snap).catch(() => undefined);
      });
      this.#breakers.set(target, breaker);
      // adopt the cluster's current view of this target, if any
      void this.#board.get(target).then(
        (snap) => {
          if (snap !== undefined) breaker?.applyRemote(snap);
        },
        () => undefined,
      );
    }
    return breaker;
  }

  /**
   * Asks `target` through its bulkhead and breaker: fails fast with ERR_BULKHEAD_FULL or
   * ERR_BREAKER_OPEN (or answers with `fallback`) instead of piling up on a sick agent.
   */
  async ask<C extends ActorClass = ActorClass>(target: string, msg: MessageOf<C>, options: AskOptions & GuardOptions<ReplyOf<C>> = {}): Promise<ReplyOf<C>> {
    const breaker = this.breaker(target, options.breaker);
    let release: (() => void) | undefined;
    if (options.bulkhead !== undefined) {
      let bulkhead = this.#bulkheads.get(target);
      if (bulkhead === undefined) {
        bulkhead = new Bulkhead(options.bulkhead, this.#node.clock);
        this.#bulkheads.set(target, bulkhead);
      }
      release = await bulkhead.acquire();
    }
    try {
      const acquired = breaker.tryAcquire();
      if (!acquired.ok) {
        if (options.fallback !== undefined) return await options.fallback(acquired.error);
        throw acquired.error;
      }
      const started = this.#node.clock.now();
      try {
        const reply = await this.#node.ref<C>(target).ask(msg, options);
        acquired.permit.success(this.#node.clock.now() - started);
        return reply;
      } catch (error) {
        if (isTetherError(error) && CALLER_FAULTS.has(error.code)) acquired.permit.success(this.#node.clock.now() - started);
        else acquired.permit.failure(this.#node.clock.now() - started);
        throw error;
      }
    } finally {
      release?.();
    }
  }

  close(): void {
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    this.#stopObserving?.();
    this.#stopObserving = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/** True when an error means "the guard refused", not "the target failed". */
export const isGuardRefusal = (error: unknown): boolean => hasCode(error, "ERR_BREAKER_OPEN") || hasCode(error, "ERR_BULKHEAD_FULL");
