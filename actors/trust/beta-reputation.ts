import { z } from "zod";
import type { TrustOutcome } from "../../protocols/index.ts";

/**
 * The parameters of the beta reputation (documented in `docs/trust.md`). An agent's trust is the mean
 * of Beta(alpha, beta): alpha = prior.alpha + positive evidence, beta = prior.beta + negative evidence.
 * Evidence decays exponentially (it halves every `halfLifeMs`), and each observer's positive and
 * negative evidence about one agent is capped at `observerCap`, so one observer can neither stuff
 * nor smear a score beyond a bound that does not depend on how many reports it sends.
 */
export const TrustParams = z.strictObject({
  /** Newcomer prior: the score of an agent nobody reported on is alpha / (alpha + beta). Default 1, 1 (0.5). */
  prior: z.strictObject({ alpha: z.number().positive().max(1_000).default(1), beta: z.number().positive().max(1_000).default(1) }).default({ alpha: 1, beta: 1 }),
  /** Evidence half-life; default 24 h. */
  halfLifeMs: z.number().positive().max(10 * 365 * 86_400_000).default(86_400_000),
  /** The most (decayed) positive, and the most negative, evidence one observer can hold about one agent. Default 10. */
  observerCap: z.number().positive().max(1_000).default(10),
  /** Evidence each outcome adds: [positive, negative]. */
  weights: z
    .record(z.string(), z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]))
    .default({}),
});
export type TrustParams = z.output<typeof TrustParams>;
export type TrustParamsInput = z.input<typeof TrustParams>;

/** Default evidence per outcome, [positive, negative]. */
export const OUTCOME_WEIGHTS: Readonly<Record<TrustOutcome, readonly [number, number]>> = {
  success: [1, 0],
  failure: [0, 1],
  timeout: [0, 0.5],
  violation: [0, 3],
  "rollback-caused": [0, 2],
  "vote-agreed": [1, 0],
  "vote-disagreed": [0, 1],
  drift: [0, 2],
};

export const weightOf = (params: TrustParams, outcome: TrustOutcome): readonly [number, number] => params.weights[outcome] ?? OUTCOME_WEIGHTS[outcome];

/** One observer's evidence about one agent, as of `at` (epoch ms). */
export interface Evidence {
  pos: number;
  neg: number;
  at: number;
  reports: number;
}

/** 2^(-elapsed / halfLife); 1 when no time passed (or the clock went back). */
export const decayFactor = (elapsedMs: number, halfLifeMs: number): number => (elapsedMs <= 0 ? 1 : 2 ** (-elapsedMs / halfLifeMs));

/** The evidence decayed to `now` (a new object). */
export const decayed = (e: Evidence, now: number, halfLifeMs: number): Evidence => {
  const f = decayFactor(now - e.at, halfLifeMs);
  return { pos: e.pos * f, neg: e.neg * f, at: Math.max(now, e.at), reports: e.reports };
};

/** Adds `count` reports of `outcome` at `now`: decay first, then add, then cap each sign at the observer cap. */
export const addEvidence = (e: Evidence | undefined, outcome: TrustOutcome, count: number, now: number, params: TrustParams): Evidence => {
  const base = e === undefined ? { pos: 0, neg: 0, at: now, reports: 0 } : decayed(e, now, params.halfLifeMs);
  const [p, n] = weightOf(params, outcome);
  return {
    pos: Math.min(params.observerCap, base.pos + p * count),
    neg: Math.min(params.observerCap, base.neg + n * count),
    at: base.at,
    reports: base.reports + 1,
  };
};

/** alpha, beta and the score from every observer's evidence, decayed to `now`. */
export const betaScore = (evidence: Iterable<Evidence>, now: number, params: TrustParams): { alpha: number; beta: number; score: number } => {
  let alpha = params.prior.alpha;
  let beta = params.prior.beta;
  for (const e of evidence) {
    const d = decayed(e, now, params.halfLifeMs);
    alpha += d.pos;
    beta += d.neg;
  }
  return { alpha, beta, score: alpha / (alpha + beta) };
};

/**
 * The lowest score one observer can push an agent to, given the rest of the evidence (alpha, beta
 * without that observer): it adds at most `observerCap` negative evidence and withdraws its positive.
 */
export const smearFloor = (alphaOthers: number, betaOthers: number, params: TrustParams): number => alphaOthers / (alphaOthers + betaOthers + params.observerCap);
