import { z } from "zod";
import type { TetherError } from "../protocols/index.ts";
import type { Clock } from "../runtime/index.ts";
import { parseSupervisorOptions, supervisorError } from "./supervisor-errors.ts";
import { CountWindow, TimeWindow, type OutcomeWindow } from "./outcome-window.ts";

// The breaker's state and its shared snapshot are a wire format (JetStream KV): defined in protocols/.
import { BreakerSnapshot, BreakerState } from "../protocols/index.ts";
export { BreakerSnapshot, BreakerState };

/** Why a breaker changed state. */
export const BreakerTransitionReason = {
  /** closed → open: the failure rate of the window reached `failureRateThreshold`. */
  failureRate: "failure_rate",
  /** closed → open: the slow-call rate of the window reached `slowCallRateThreshold`. */
  slowCallRate: "slow_call_rate",
  /** open → half_open: `openMs` passed. */
  openElapsed: "open_elapsed",
  /** half_open → open: a probe failed. */
  probeFailed: "probe_failed",
  /** half_open → open: a probe took (or is still running after) `slowCallDurationMs`. */
  probeSlow: "probe_slow",
  /** half_open → closed: `halfOpenSuccessesToClose` probes succeeded. */
  probesSucceeded: "probes_succeeded",
  /** Any change adopted from another node's snapshot (`applyRemote`). */
  remote: "remote",
} as const;
export type BreakerTransitionReason = (typeof BreakerTransitionReason)[keyof typeof BreakerTransitionReason];

const ratio = z.number().gt(0).max(1);

/**
 * Options of one breaker (one caller→target edge). The window is time-based by default (`windowMs`,
 * counted in `windowBuckets` steps); set `windowSize` instead for a window of the last N calls.
 */
export const CircuitBreakerOptions = z
  .strictObject({
    /** Shown in errors and transitions, e.g. "triage→pharmacist". Default "breaker". */
    name: z.string().min(1).max(256).default("breaker"),
    /** Id of the node holding this copy; breaks ties between equal snapshots. Default "". */
    origin: z.string().max(256).default(""),
    /**
     * Time window: outcomes of the last `windowMs` count (default 60 000 ms when `windowSize` is unset).
     * It slides in steps of `windowMs / windowBuckets`, so an outcome counts for between
     * `windowMs − windowMs / windowBuckets` and `windowMs`.
     */
    windowMs: z.number().int().positive().max(86_400_000).optional(),
    /** Steps of the time window. Default 10. */
    windowBuckets: z.number().int().min(1).max(1_000).default(10),
    /** Count window: the last `windowSize` outcomes count. Exclusive with `windowMs`. */
    windowSize: z.number().int().positive().max(100_000).optional(),
    /** Rates are judged only once the window holds this many calls. Default 10. */
    minimumCalls: z.number().int().positive().max(100_000).default(10),
    /** Opens when failures / calls ≥ this (0 < x ≤ 1). Default 0.5. */
    failureRateThreshold: ratio.default(0.5),
    /** A call taking at least this long is slow (failed or not). Default 10 000 ms. */
    slowCallDurationMs: z.number().int().positive().max(86_400_000).default(10_000),
    /** Opens when slow calls / calls ≥ this (0 < x ≤ 1). Default 1 (every call in the window slow). */
    slowCallRateThreshold: ratio.default(1),
    /** Time spent open before letting probes through (half-open). Default 30 000 ms. */
    openMs: z.number().int().positive().max(86_400_000).default(30_000),
    /** Probes allowed in flight at once while half-open; further callers are refused. Default 2. */
    halfOpenMaxProbes: z.number().int().positive().max(1_000).default(2),
    /** Successful probes (not slow) that close the breaker; any failed or slow probe reopens it. Default 2. */
    halfOpenSuccessesToClose: z.number().int().positive().max(10_000).default(2),
  })
  .refine((o) => o.windowMs === undefined || o.windowSize === undefined, {
    message: "set windowMs (a time window) or windowSize (a count window), not both",
    path: ["windowSize"],
  })
  .refine((o) => o.windowSize === undefined || o.minimumCalls <= o.windowSize, {
    message: "minimumCalls must not exceed windowSize (the breaker could never open)",
    path: ["minimumCalls"],
  })
  .transform(({ windowMs, windowBuckets, windowSize, ...rest }) =>
    Object.freeze({
      ...rest,
      window: Object.freeze(
        windowSize === undefined
          ? { kind: "time" as const, ms: windowMs ?? 60_000, buckets: windowBuckets }
          : { kind: "count" as const, size: windowSize },
      ),
    }),
  );
export type CircuitBreakerOptionsInput = z.input<typeof CircuitBreakerOptions>;
export type CircuitBreakerOptions = z.output<typeof CircuitBreakerOptions>;



const severity: Readonly<Record<BreakerState, number>> = Object.freeze({ closed: 0, half_open: 1, open: 2 });

/**
 * The merge rule for snapshots, a total order: the higher `generation` wins; on equal generations the
 * more cautious state (open > half_open > closed), then the later `changedAt`, then the greater
 * `origin`. Every node adopting the maximum it sees converges on the same state whatever order the
 * snapshots arrive in (the merge is commutative, associative and idempotent).
 * Returns a positive number when `a` is newer than `b`, negative when older, 0 when equal.
 */
export const compareBreakerSnapshots = (a: BreakerSnapshot, b: BreakerSnapshot): number =>
  a.generation - b.generation ||
  severity[a.state] - severity[b.state] ||
  a.changedAt - b.changedAt ||
  (a.origin === b.origin ? 0 : a.origin > b.origin ? 1 : -1);

export interface BreakerTransition {
  readonly breaker: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: BreakerTransitionReason;
  readonly generation: number;
  readonly at: number;
}
export type BreakerTransitionListener = (transition: BreakerTransition) => void;

/** Leave to make one call. Report its outcome once; later reports are ignored. */
export interface BreakerPermit {
  /**
   * The call succeeded. `durationMs` defaults to the time since the permit was issued (on the
   * breaker's clock); a missing, negative or non-finite value uses that too.
   */
  success(durationMs?: number): void;
  /** The call failed (counts against the target). */
  failure(durationMs?: number): void;
}
export type BreakerAcquire = { readonly ok: true; readonly permit: BreakerPermit } | { readonly ok: false; readonly error: TetherError };

type Settle = (permit: Permit, failed: boolean, durationMs: number | undefined) => void;

class Permit implements BreakerPermit {
  #settled = false;
  constructor(
    readonly epoch: number,
    readonly startedAt: number,
    readonly probe: boolean,
    readonly settle: Settle,
  ) {}

  success(durationMs?: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.settle(this, false, durationMs);
  }

  failure(durationMs?: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.settle(this, true, durationMs);
  }
}

/**
 * A circuit breaker on one caller→target edge, on an injected clock.
 *
 * - closed: calls pass; outcomes fill the window. Once it holds `minimumCalls`, a failure rate ≥
 *   `failureRateThreshold` or a slow-call rate ≥ `slowCallRateThreshold` opens the breaker.
 * - open: calls are refused with ERR_BREAKER_OPEN (`details.retryAfterMs`) for `openMs`, then the
 *   breaker is half-open (checked lazily, on the next use).
 * - half_open: at most `halfOpenMaxProbes` calls run at once; other callers are refused with
 *   ERR_BREAKER_OPEN. `halfOpenSuccessesToClose` successful probes close it; one failed or slow
 *   probe reopens it, as does a probe still unreported after `slowCallDurationMs` (so a leaked permit
 *   cannot wedge the breaker half-open).
 *
 * Outcomes reported after the breaker changed state since the permit was issued are ignored: they
 * describe the target as it was.
 */
export class CircuitBreaker {
  readonly options: CircuitBreakerOptions;
  readonly #clock: Clock;
  readonly #window: OutcomeWindow;
  readonly #listeners = new Set<BreakerTransitionListener>();
  readonly #settle: Settle;
  #state: BreakerState = "closed";
  #generation = 0;
  #changedAt: number;
  #origin: string;
  #openUntil = 0;
  /** Local change counter: permits from an earlier epoch are stale. */
  #epoch = 0;
  readonly #probes = new Set<Permit>();
  #probeSuccesses = 0;

  constructor(options: CircuitBreakerOptionsInput, clock: Clock) {
    this.options = parseSupervisorOptions(CircuitBreakerOptions, options, "circuit breaker options");
    this.#clock = clock;
    const w = this.options.window;
    this.#window = w.kind === "time" ? new TimeWindow(w.ms, w.buckets) : new CountWindow(w.size);
    this.#changedAt = clock.now();
    this.#origin = this.options.origin;
    this.#settle = (permit, failed, durationMs) => this.#record(permit, failed, durationMs);
  }

  get name(): string {
    return this.options.name;
  }

  /** The current state (moves open → half_open first if `openMs` has passed). */
  get state(): BreakerState {
    this.#tick(this.#clock.now());
    return this.#state;
  }

  /** Asks to make one call: a permit to report the outcome on, or ERR_BREAKER_OPEN to fail fast with. */
  tryAcquire(): BreakerAcquire {
    const now = this.#clock.now();
    this.#tick(now);
    switch (this.#state) {
      case "closed":
        return { ok: true, permit: new Permit(this.#epoch, now, false, this.#settle) };
      case "open": {
        const retryAfterMs = Math.max(0, this.#openUntil - now);
        return {
          ok: false,
          error: supervisorError("ERR_BREAKER_OPEN", `circuit breaker ${this.name} is open; retry in ${retryAfterMs} ms`, {
            details: { breaker: this.name, state: this.#state, retryAfterMs, generation: this.#generation },
          }),
        };
      }
      case "half_open": {
        if (this.#probes.size >= this.options.halfOpenMaxProbes) {
          return {
            ok: false,
            error: supervisorError(
              "ERR_BREAKER_OPEN",
              `circuit breaker ${this.name} is half-open and all ${this.options.halfOpenMaxProbes} probe slots are taken`,
              { details: { breaker: this.name, state: this.#state, probesInFlight: this.#probes.size, generation: this.#generation } },
            ),
          };
        }
        const permit = new Permit(this.#epoch, now, true, this.#settle);
        this.#probes.add(permit);
        return { ok: true, permit };
      }
    }
  }

  /** Calls, failures and slow calls in the window now, plus probe counts while half-open. */
  metrics(): { state: BreakerState; calls: number; failures: number; slow: number; probesInFlight: number; probeSuccesses: number } {
    const now = this.#clock.now();
    this.#tick(now);
    return { state: this.#state, ...this.#window.totals(now), probesInFlight: this.#probes.size, probeSuccesses: this.#probeSuccesses };
  }

  /** The state to share with other nodes (plain JSON). */
  snapshot(): BreakerSnapshot {
    this.#tick(this.#clock.now());
    return {
      type: "tether.breaker.v1.snapshot",
      state: this.#state,
      generation: this.#generation,
      changedAt: this.#changedAt,
      openUntil: this.#state === "open" ? this.#openUntil : null,
      origin: this.#origin,
    };
  }

  /**
   * Adopts `remote` when it is newer than the local state by `compareBreakerSnapshots`; returns whether
   * it did. Listeners hear a state change with reason "remote" (do not publish those back). Adopting
   * starts the state afresh: window, probes and permits in flight are forgotten.
   */
  applyRemote(remote: BreakerSnapshot): boolean {
    const now = this.#clock.now();
    this.#tick(now);
    if (compareBreakerSnapshots(remote, this.snapshot()) <= 0) return false;
    const from = this.#state;
    this.#generation = remote.generation;
    this.#changedAt = remote.changedAt;
    this.#origin = remote.origin;
    if (remote.state === "open") this.#openUntil = remote.openUntil ?? now + this.options.openMs;
    if (remote.state !== from) {
      this.#enter(remote.state);
      this.#emit({ breaker: this.name, from, to: remote.state, reason: "remote", generation: this.#generation, at: now });
    }
    return true;
  }

  /** Calls `listener` on every state change, synchronously; returns the unsubscribe function. */
  onTransition(listener: BreakerTransitionListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #record(permit: Permit, failed: boolean, durationMs: number | undefined): void {
    const now = this.#clock.now();
    this.#tick(now);
    if (permit.epoch !== this.#epoch) return;
    const duration = durationMs !== undefined && Number.isFinite(durationMs) && durationMs >= 0 ? durationMs : now - permit.startedAt;
    const slow = duration >= this.options.slowCallDurationMs;
    if (this.#state === "closed") {
      this.#window.add(now, failed, slow);
      const t = this.#window.totals(now);
      if (t.calls < this.options.minimumCalls) return;
      if (t.failures / t.calls >= this.options.failureRateThreshold) this.#transition("open", "failure_rate", now);
      else if (t.slow / t.calls >= this.options.slowCallRateThreshold) this.#transition("open", "slow_call_rate", now);
    } else if (this.#state === "half_open" && this.#probes.delete(permit)) {
      if (failed) this.#transition("open", "probe_failed", now);
      else if (slow) this.#transition("open", "probe_slow", now);
      else if (++this.#probeSuccesses >= this.options.halfOpenSuccessesToClose) this.#transition("closed", "probes_succeeded", now);
    }
  }

  /** Applies the transitions that the passage of time causes. */
  #tick(now: number): void {
    if (this.#state === "open" && now >= this.#openUntil) this.#transition("half_open", "open_elapsed", now);
    if (this.#state === "half_open") {
      for (const probe of this.#probes) {
        if (now - probe.startedAt >= this.options.slowCallDurationMs) {
          this.#transition("open", "probe_slow", now);
          break;
        }
      }
    }
  }

  #transition(to: BreakerState, reason: BreakerTransitionReason, now: number): void {
    const from = this.#state;
    this.#generation++;
    this.#changedAt = now;
    this.#origin = this.options.origin;
    if (to === "open") this.#openUntil = now + this.options.openMs;
    this.#enter(to);
    this.#emit({ breaker: this.name, from, to, reason, generation: this.#generation, at: now });
  }

  #enter(state: BreakerState): void {
    this.#state = state;
    this.#epoch++;
    this.#window.clear();
    this.#probes.clear();
    this.#probeSuccesses = 0;
  }

  #emit(transition: BreakerTransition): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(transition);
      } catch {
        // A listener's failure must not undo or block the transition, nor reach the caller whose
        // outcome report caused it; listeners own their errors.
      }
    }
  }
}

export interface WithBreakerOptions<T> {
  /** Answers instead of the error when the breaker refuses the call. Not called when `fn` itself fails. */
  readonly fallback?: (error: TetherError) => T | Promise<T>;
  /** Which errors of `fn` count against the target. Default: all. Others count as successes (the target answered). */
  readonly isFailure?: (error: unknown) => boolean;
}

/**
 * Runs `fn` through the breaker: refused calls fail fast with ERR_BREAKER_OPEN (or return the
 * fallback); otherwise the outcome and duration of `fn` are reported and its result or error passed on.
 */
export const withBreaker = async <T>(breaker: CircuitBreaker, fn: () => T | Promise<T>, options: WithBreakerOptions<T> = {}): Promise<T> => {
  const acquired = breaker.tryAcquire();
  if (!acquired.ok) {
    if (options.fallback !== undefined) return options.fallback(acquired.error);
    throw acquired.error;
  }
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    if (options.isFailure === undefined || options.isFailure(error)) acquired.permit.failure();
    else acquired.permit.success();
    throw error;
  }
  acquired.permit.success();
  return value;
};
