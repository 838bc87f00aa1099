import { describe, expect, it } from "vitest";
import { PageHinkleyParams, initialPageHinkley, pageHinkleyStep } from "../../../actors/index.ts";
import { normal, seededRandom } from "../../support/seeded-random.ts";

const params = PageHinkleyParams.parse({});

/** Alarms per 10,000 tested observations on a stationary series, restarting the detector per run. */
const falseAlarmRate = (draw: (random: () => number) => number, runs: number, length: number): number => {
  let alarms = 0;
  for (let run = 0; run < runs; run += 1) {
    const random = seededRandom(1000 + run);
    const state = initialPageHinkley();
    for (let i = 0; i < params.baseline + length; i += 1) if (pageHinkleyStep(state, draw(random), params) !== undefined) alarms += 1;
  }
  return (alarms / (runs * length)) * 10_000;
};

/** Observations after the change until the alarm, for a mean shift of `shift` sd. */
const delays = (shift: number, runs: number): number[] =>
  Array.from({ length: runs }, (_, run) => {
    const random = seededRandom(5000 + run);
    const state = initialPageHinkley();
    for (let i = 0; i < params.baseline; i += 1) pageHinkleyStep(state, 100 + 10 * normal(random), params);
    for (let i = 1; i <= 10_000; i += 1) if (pageHinkleyStep(state, 100 + 10 * (normal(random) + shift), params) !== undefined) return i;
    return Number.POSITIVE_INFINITY;
  });

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;

describe("Page–Hinkley drift detector", () => {
  it("raises no alarm during the baseline and restarts its statistics after an alarm", () => {
    const state = initialPageHinkley();
    for (let i = 0; i < params.baseline; i += 1) expect(pageHinkleyStep(state, 1000, params)).toBeUndefined();
    const alarm = pageHinkleyStep(state, 1e9, { ...params, lambda: 3 });
    expect(alarm).toMatchObject({ direction: "up", after: 1 });
    expect(state.up).toBe(0);
  });

  it("ignores non-finite values and a single clamped outlier", () => {
    const state = initialPageHinkley();
    const random = seededRandom(7);
    for (let i = 0; i < params.baseline; i += 1) pageHinkleyStep(state, normal(random), params);
    expect(pageHinkleyStep(state, Number.NaN, params)).toBeUndefined();
    expect(pageHinkleyStep(state, 1e12, params)).toBeUndefined();
  });

  it("measured false-alarm rate on stationary Gaussian and exponential series stays below 1 per 10,000", () => {
    const gaussian = falseAlarmRate((r) => 100 + 10 * normal(r), 40, 10_000);
    const exponential = falseAlarmRate((r) => -Math.log(Math.max(r(), Number.MIN_VALUE)) * 200, 40, 10_000);
    console.log(`page-hinkley false alarms per 10,000: gaussian ${gaussian.toFixed(3)}, exponential ${exponential.toFixed(3)}`);
    expect(gaussian).toBeLessThan(1);
    expect(exponential).toBeLessThan(10);
  });

  it("measured detection delay of a 1 sd mean shift: p95 within 60 observations", () => {
    const one = delays(1, 200);
    const half = delays(0.5, 200);
    console.log(`page-hinkley delay (observations) 1 sd: p50 ${quantile(one, 0.5)} p95 ${quantile(one, 0.95)} max ${Math.max(...one)}; 0.5 sd: p50 ${quantile(half, 0.5)} p95 ${quantile(half, 0.95)}`);
    expect(quantile(one, 0.95)).toBeLessThanOrEqual(60);
    expect(Math.max(...one)).toBeLessThan(Number.POSITIVE_INFINITY);
  });
});
