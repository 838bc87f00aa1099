import { z } from "zod";
import type { TetherError } from "../protocols/index.ts";
import type { Clock } from "../runtime/index.ts";
import { parseSupervisorOptions, supervisorError } from "./supervisor-errors.ts";
import { shiftWaiter, Waiter, type AcquireOptions, type GiveUpReason, type Release } from "./waiter.ts";

/** One priority class of an admission pool, e.g. "diagnostic" or "observer". */
export const PoolClass = z
  .strictObject({
    name: z.string().min(1).max(64),
    /** Lower is served first. */
    priority: z.number().int().nonnegative().max(1_000),
    /** Share of the grants among waiting classes of the same priority. Default 1. */
    weight: z.number().int().positive().max(1_000).default(1),
    /**
     * Starvation guard: grants that may go to other classes in a row while this class waits; the next
     * one is this class's (see the bound on AdmissionPool). 0 means never bypassed. Default 10.
     */
    maxBypass: z.number().int().nonnegative().max(1_000_000).default(10),
    /** Longest wait for a slot; then the request fails with ERR_BULKHEAD_TIMEOUT. Default: none. */
    maxWaitMs: z.number().int().positive().max(86_400_000).optional(),
    /** Requests of this class that may wait; beyond it `acquire` rejects at once (ERR_BULKHEAD_FULL). Default 10 000. */
    maxQueue: z.number().int().nonnegative().max(1_000_000).default(10_000),
  })
  .readonly();
export type PoolClassInput = z.input<typeof PoolClass>;
export type PoolClass = z.output<typeof PoolClass>;

export const AdmissionPoolOptions = z
  .strictObject({
    /** Shown in errors. Default "pool". */
    name: z.string().min(1).max(256).default("pool"),
    /** Slots, e.g. concurrent inference calls the provider allows. */
    capacity: z.number().int().positive().max(1_000_000),
    classes: z
      .array(PoolClass)
      .min(1)
      .max(64)
      .refine((classes) => new Set(classes.map((c) => c.name)).size === classes.length, { message: "class names must be unique" })
      .readonly(),
  })
  .readonly();
export type AdmissionPoolOptionsInput = z.input<typeof AdmissionPoolOptions>;
export type AdmissionPoolOptions = z.output<typeof AdmissionPoolOptions>;

export interface PoolClassStats {
  readonly priority: number;
  readonly weight: number;
  readonly inFlight: number;
  readonly queued: number;
  readonly granted: number;
  /** Refused at once because the class queue was full. */
  readonly rejected: number;
  readonly timedOut: number;
  readonly aborted: number;
  /** Longest time a granted request of this class waited. */
  readonly longestWaitMs: number;
  /** The starvation bound: a waiting request at the head of this class is granted within this many grants (its own included). */
  readonly starvationBoundGrants: number;
}
export interface PoolStats {
  readonly name: string;
  readonly capacity: number;
  readonly inFlight: number;
  readonly queued: number;
  readonly classes: Readonly<Record<string, PoolClassStats>>;
}

interface ClassState {
  readonly spec: PoolClass;
  readonly queue: Set<Waiter>;
  readonly giveUp: (waiter: Waiter, reason: GiveUpReason, cause: unknown) => TetherError;
  inFlight: number;
  /** Grants to other classes in a row while this class waited (0 whenever it has no waiters). */
  bypassed: number;
  /** Smooth weighted round-robin credit among classes of equal priority. */
  credit: number;
  granted: number;
  rejected: number;
  timedOut: number;
  aborted: number;
  longestWaitMs: number;
}

/**
 * A shared pool of `capacity` slots (say inference calls) with priority classes and fair share.
 *
 * Which waiting request gets a freed slot:
 * 1. Starvation guard: a class that has been bypassed (grants went to other classes while it waited)
 *    `maxBypass` times in a row is overdue and takes the slot; among several, the most overdue
 *    (bypasses − maxBypass), then the lower priority number, then declaration order.
 * 2. Otherwise the waiting class with the lowest priority number; classes of equal priority split these
 *    grants in proportion to `weight` (smooth weighted round robin).
 * 3. Within a class, first come first served.
 *
 * The bound (k = number of classes): while class c has waiters, at most `maxBypass_c + k − 1` grants
 * in a row go to other classes, so the request at the head of c is granted within
 * `maxBypass_c + k` grants, its own included (`stats().classes[c].starvationBoundGrants`).
 * Proof: let lateness = bypasses − maxBypass. Once c is overdue (lateness ≥ 0), a grant to another
 * class d needs d's lateness ≥ c's; afterwards d's lateness is −maxBypass_d ≤ 0 while c's grew to ≥ 1,
 * and from then on c's grows by exactly one per grant while d's grows by at most one (or resets), so d
 * stays behind c. Each other class is thus served at most once between c becoming overdue and c being
 * served. Consequences: a request with j requests of its class queued ahead is granted within
 * `(j + 1) × starvationBoundGrants` grants, and, when every holder keeps its slot at most h ms, within
 * `⌈(j + 1) × starvationBoundGrants / capacity⌉ × h` ms. Under sustained higher-priority load a class
 * still receives at least one grant in every `maxBypass + k`.
 */
export class AdmissionPool {
  readonly options: AdmissionPoolOptions;
  readonly #clock: Clock;
  readonly #classes = new Map<string, ClassState>();
  /** In declaration order (the last tie-break). */
  readonly #order: ClassState[] = [];
  #inFlight = 0;
  #queued = 0;

  constructor(options: AdmissionPoolOptionsInput, clock: Clock) {
    this.options = parseSupervisorOptions(AdmissionPoolOptions, options, "admission pool options");
    this.#clock = clock;
    for (const spec of this.options.classes) {
      const state: ClassState = {
        spec,
        queue: new Set(),
        giveUp: (waiter, reason, cause) => this.#giveUp(state, waiter, reason, cause),
        inFlight: 0,
        bypassed: 0,
        credit: 0,
        granted: 0,
        rejected: 0,
        timedOut: 0,
        aborted: 0,
        longestWaitMs: 0,
      };
      this.#classes.set(spec.name, state);
      this.#order.push(state);
    }
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * Resolves with a release function once a slot is held for `className`. Rejects with
   * ERR_BULKHEAD_CLASS_UNKNOWN, ERR_BULKHEAD_FULL (class queue full), ERR_BULKHEAD_TIMEOUT (the class's
   * `maxWaitMs`) or ERR_BULKHEAD_ABORTED (the signal fired).
   */
  acquire(className: string, options: AcquireOptions = {}): Promise<Release> {
    const cls = this.#classes.get(className);
    if (cls === undefined) {
      return Promise.reject(
        supervisorError("ERR_BULKHEAD_CLASS_UNKNOWN", `admission pool ${this.name} has no class ${JSON.stringify(className)}`, {
          details: { pool: this.name, class: className, classes: [...this.#classes.keys()] },
        }),
      );
    }
    if (options.signal?.aborted === true) {
      cls.aborted++;
      return Promise.reject(
        supervisorError("ERR_BULKHEAD_ABORTED", `admission pool ${this.name}: ${className} request aborted before waiting`, {
          cause: options.signal.reason,
          details: { pool: this.name, class: className, waitedMs: 0 },
        }),
      );
    }
    // A free slot means nobody waits (freed slots are handed to waiters at once), so no one is bypassed.
    if (this.#inFlight < this.options.capacity) {
      this.#take(cls, 0);
      return Promise.resolve(this.#releaser(cls));
    }
    if (cls.queue.size >= cls.spec.maxQueue) {
      cls.rejected++;
      return Promise.reject(
        supervisorError("ERR_BULKHEAD_FULL", `admission pool ${this.name}: ${className} queue is full (${cls.queue.size} waiting)`, {
          details: { pool: this.name, class: className, capacity: this.options.capacity, maxQueue: cls.spec.maxQueue },
        }),
      );
    }
    const waiter = new Waiter(this.#clock, options.signal, cls.spec.maxWaitMs, cls.giveUp);
    cls.queue.add(waiter);
    this.#queued++;
    return waiter.promise;
  }

  stats(): PoolStats {
    const k = this.#order.length;
    const classes: Record<string, PoolClassStats> = {};
    for (const c of this.#order) {
      classes[c.spec.name] = {
        priority: c.spec.priority,
        weight: c.spec.weight,
        inFlight: c.inFlight,
        queued: c.queue.size,
        granted: c.granted,
        rejected: c.rejected,
        timedOut: c.timedOut,
        aborted: c.aborted,
        longestWaitMs: c.longestWaitMs,
        starvationBoundGrants: c.spec.maxBypass + k,
      };
    }
    return { name: this.name, capacity: this.options.capacity, inFlight: this.#inFlight, queued: this.#queued, classes };
  }

  #take(cls: ClassState, waitedMs: number): void {
    this.#inFlight++;
    cls.inFlight++;
    cls.granted++;
    if (waitedMs > cls.longestWaitMs) cls.longestWaitMs = waitedMs;
  }

  #releaser(cls: ClassState): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      cls.inFlight--;
      this.#dispatch();
    };
  }

  /** Hands free slots to waiters, one decision per slot. */
  #dispatch(): void {
    while (this.#inFlight < this.options.capacity && this.#queued > 0) {
      const cls = this.#pick();
      const waiter = cls === undefined ? undefined : shiftWaiter(cls.queue);
      if (cls === undefined || waiter === undefined) return; // unreachable: #queued counts the waiters
      this.#queued--;
      for (const other of this.#order) if (other !== cls && other.queue.size > 0) other.bypassed++;
      cls.bypassed = 0;
      if (cls.queue.size === 0) cls.credit = 0;
      this.#take(cls, this.#clock.now() - waiter.enqueuedAt);
      // A waiter still in a queue has not given up (giving up removes it synchronously), so this grant lands.
      waiter.grant(this.#releaser(cls));
    }
  }

  #pick(): ClassState | undefined {
    let overdue: ClassState | undefined;
    let best: ClassState | undefined;
    for (const c of this.#order) {
      if (c.queue.size === 0) continue;
      const lateness = c.bypassed - c.spec.maxBypass;
      if (lateness >= 0) {
        const current = overdue === undefined ? -1 : overdue.bypassed - overdue.spec.maxBypass;
        if (overdue === undefined || lateness > current || (lateness === current && c.spec.priority < overdue.spec.priority)) overdue = c;
      }
      if (best === undefined || c.spec.priority < best.spec.priority) best = c;
    }
    if (overdue !== undefined || best === undefined) return overdue;
    const priority = best.spec.priority;
    const peers = this.#order.filter((c) => c.queue.size > 0 && c.spec.priority === priority);
    if (peers.length === 1) return best;
    let total = 0;
    let chosen: ClassState | undefined;
    for (const c of peers) {
      c.credit += c.spec.weight;
      total += c.spec.weight;
      if (chosen === undefined || c.credit > chosen.credit) chosen = c;
    }
    if (chosen !== undefined) chosen.credit -= total;
    return chosen;
  }

  #giveUp(cls: ClassState, waiter: Waiter, reason: GiveUpReason, cause: unknown): TetherError {
    if (cls.queue.delete(waiter)) this.#queued--;
    if (cls.queue.size === 0) {
      cls.bypassed = 0;
      cls.credit = 0;
    }
    const waitedMs = this.#clock.now() - waiter.enqueuedAt;
    const details = { pool: this.name, class: cls.spec.name, waitedMs };
    if (reason === "timeout") {
      cls.timedOut++;
      return supervisorError("ERR_BULKHEAD_TIMEOUT", `admission pool ${this.name}: no ${cls.spec.name} slot within ${waitedMs} ms`, { details });
    }
    cls.aborted++;
    return supervisorError("ERR_BULKHEAD_ABORTED", `admission pool ${this.name}: ${cls.spec.name} request aborted after ${waitedMs} ms`, {
      cause,
      details,
    });
  }
}
