import { z } from "zod";

/**
 * Parameters of the two-sided Page–Hinkley test (see docs/verifier.md for the choice and the measured
 * false-alarm rate). Values are standardised against the series' own baseline window first, so
 * `delta` and `lambda` are in baseline standard deviations and one setting fits every series.
 */
export const PageHinkleyParams = z.strictObject({
  /** Observations that form the baseline (mean and standard deviation); no alarm is raised before. */
  baseline: z.int().min(2).max(100_000).default(100),
  /** Drift allowance: half the smallest shift (in baseline sd) worth detecting. */
  delta: z.number().positive().max(100).default(0.5),
  /** Alarm threshold on the cumulative deviation (in baseline sd). */
  lambda: z.number().positive().max(10_000).default(12),
  /** Floor of the baseline sd, so a constant baseline does not make every wobble an alarm. */
  minSigma: z.number().nonnegative().default(1e-6),
  /** Standardised values are clamped to ±clamp, so one outlier cannot alone raise an alarm. */
  clamp: z.number().positive().default(4),
});
export type PageHinkleyParams = z.infer<typeof PageHinkleyParams>;
export type PageHinkleyParamsInput = z.input<typeof PageHinkleyParams>;

/** The detector's whole state: plain JSON, so an actor can checkpoint it. */
export interface PageHinkleyState {
  /** Observations seen in the baseline window so far (Welford running mean and M2). */
  n: number;
  mean: number;
  m2: number;
  /** Cumulative statistics of the upward and downward tests (CUSUM form of Page–Hinkley). */
  up: number;
  down: number;
  /** Observations tested since the baseline closed (or since the last alarm). */
  tested: number;
}

export interface PageHinkleyAlarm {
  readonly direction: "up" | "down";
  /** The statistic that crossed lambda. */
  readonly statistic: number;
  readonly baselineMean: number;
  readonly baselineSd: number;
  /** Observations tested after the baseline until the alarm. */
  readonly after: number;
}

export const initialPageHinkley = (): PageHinkleyState => ({ n: 0, mean: 0, m2: 0, up: 0, down: 0, tested: 0 });

/**
 * Feeds one observation. While the baseline fills, it updates mean and variance; afterwards it
 * standardises x, z = clamp((x − mean) / sd), and runs both one-sided tests:
 *   up   = max(0, up   + z − δ)      down = max(0, down − z − δ)
 * raising an alarm when either exceeds λ. After an alarm both statistics restart at 0 (the baseline
 * stays: the verifier judges an agent against its own past, not against its drifted present).
 * Mutates and returns `state`; pure otherwise.
 */
export const pageHinkleyStep = (state: PageHinkleyState, x: number, p: PageHinkleyParams): PageHinkleyAlarm | undefined => {
  if (!Number.isFinite(x)) return undefined;
  if (state.n < p.baseline) {
    state.n += 1;
    const d = x - state.mean;
    state.mean += d / state.n;
    state.m2 += d * (x - state.mean);
    return undefined;
  }
  const sd = baselineSd(state, p);
  const z = Math.max(-p.clamp, Math.min(p.clamp, (x - state.mean) / sd));
  state.tested += 1;
  state.up = Math.max(0, state.up + z - p.delta);
  state.down = Math.max(0, state.down - z - p.delta);
  const direction = state.up > p.lambda ? "up" : state.down > p.lambda ? "down" : undefined;
  if (direction === undefined) return undefined;
  const alarm = { direction, statistic: direction === "up" ? state.up : state.down, baselineMean: state.mean, baselineSd: sd, after: state.tested } as const;
  state.up = 0;
  state.down = 0;
  state.tested = 0;
  return alarm;
};

export const baselineSd = (state: PageHinkleyState, p: PageHinkleyParams): number =>
  Math.max(p.minSigma, state.n > 1 ? Math.sqrt(state.m2 / (state.n - 1)) : 0);
