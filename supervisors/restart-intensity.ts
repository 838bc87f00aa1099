import { z } from "zod";
import type { Clock } from "../runtime/index.ts";
import { parseSupervisorOptions } from "./supervisor-errors.ts";

/**
 * How many restarts a supervisor tolerates: more than `maxRestarts` within any `withinMs` means the
 * children keep failing, so the supervisor stops them all and escalates to its parent.
 * Defaults (Elixir's): 3 restarts within 5 s.
 */
export const RestartIntensityOptions = z
  .strictObject({
    /** Restarts allowed within the window; 0 means the first failure escalates. Default 3. */
    maxRestarts: z.number().int().nonnegative().max(10_000).default(3),
    /** Length of the sliding window. Default 5 000 ms. */
    withinMs: z.number().int().positive().max(86_400_000).default(5_000),
  })
  .readonly();
export type RestartIntensityOptionsInput = z.input<typeof RestartIntensityOptions>;
export type RestartIntensityOptions = z.output<typeof RestartIntensityOptions>;

export const IntensityVerdict = { ok: "ok", exceeded: "exceeded" } as const;
export type IntensityVerdict = (typeof IntensityVerdict)[keyof typeof IntensityVerdict];

/**
 * Counts restarts over a sliding window on an injected clock. A restart recorded at time `t` counts
 * while `now − t < withinMs`. Memory is bounded: at most `maxRestarts + 1` timestamps are kept.
 *
 * The count is also a natural backoff attempt: `backoffDelay(policy, intensity.count - 1, random)`
 * after `record()` grows while failures cluster and resets once they stop.
 */
export class RestartIntensity {
  readonly options: RestartIntensityOptions;
  readonly #clock: Clock;
  /** Restart times, oldest first. */
  #times: number[] = [];

  constructor(options: RestartIntensityOptionsInput, clock: Clock) {
    this.options = parseSupervisorOptions(RestartIntensityOptions, options, "restart intensity");
    this.#clock = clock;
  }

  /** Records one restart now: "exceeded" when this makes more than `maxRestarts` within `withinMs`. */
  record(): IntensityVerdict {
    const now = this.#clock.now();
    this.#prune(now);
    this.#times.push(now);
    if (this.#times.length > this.options.maxRestarts + 1) this.#times.shift();
    return this.#times.length > this.options.maxRestarts ? IntensityVerdict.exceeded : IntensityVerdict.ok;
  }

  /** Restarts inside the window now. */
  get count(): number {
    this.#prune(this.#clock.now());
    return this.#times.length;
  }

  /** The restart times inside the window now, oldest first (what a supervisor checkpoints). */
  get times(): readonly number[] {
    this.#prune(this.#clock.now());
    return [...this.#times];
  }

  /** Replaces the record with checkpointed times (a supervisor taken over by another node keeps its count). */
  restore(times: readonly number[]): void {
    this.#times = [...times].sort((a, b) => a - b).slice(-(this.options.maxRestarts + 1));
    this.#prune(this.#clock.now());
  }

  /** Forgets every recorded restart (for a supervisor that was itself restarted). */
  reset(): void {
    this.#times = [];
  }

  #prune(now: number): void {
    let drop = 0;
    while (drop < this.#times.length && now - (this.#times[drop] as number) >= this.options.withinMs) drop++;
    if (drop > 0) this.#times.splice(0, drop);
  }
}
