import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import { defineProfile, hasCode } from "../../protocols/index.ts";
import type { ActorContext } from "../../runtime/index.ts";
import { sleep } from "../stats.ts";
import { intBetween, normal, seededRandom, type Random } from "./random.ts";
import type { AgentReply, Scenario, ScenarioTask } from "./scenario.ts";

/**
 * `triage`: classifier agents of differing quality label incident reports low / high / critical.
 * The ground truth comes from the incident's true error rate and affected users; the report every
 * agent sees carries *measured* values (seeded noise), so even the right rule misses borderline cases.
 */

export const Severity = z.enum(["low", "high", "critical"]);
export type Severity = z.infer<typeof Severity>;

/** The rule that defines the truth (applied to the true values), and that good agents apply to the measured ones. */
export const severityOf = (errorRate: number, users: number): Severity =>
  users >= 1000 && errorRate >= 0.2 ? "critical" : errorRate >= 0.05 || users >= 100 ? "high" : "low";

const CaseMsg = z.strictObject({
  type: z.literal("case"),
  id: z.string().max(64),
  errorRate: z.number().min(0).max(1),
  users: z.number().int().min(0),
});
type CaseMsg = z.infer<typeof CaseMsg>;

const Answer = z.strictObject({ label: Severity });

/** How one classifier works: its tokens per case, its speed, its decision rule. */
export interface ClassifierModel {
  readonly tokens: readonly [number, number];
  readonly tokensPerMs: number;
  /** The label, given the case and the agent's seeded random; `page` asks to page the on-call first. */
  decide(msg: CaseMsg, random: Random): { readonly label: Severity; readonly page: boolean };
}

const models = {
  /** The full rule; a mid-sized model. */
  careful: { tokens: [350, 550], tokensPerMs: 100, decide: (m) => ({ label: severityOf(m.errorRate, m.users), page: false }) },
  /** Error rate only (ignores how many users are hit): cheap and fast, wrong whenever users decide. */
  quick: {
    tokens: [80, 160],
    tokensPerMs: 200,
    decide: (m) => ({ label: m.errorRate >= 0.2 ? "critical" : m.errorRate >= 0.05 ? "high" : "low", page: false }),
  },
  /** The full rule, but unsure one time in five: then it guesses, and half of those times it tries to page the on-call (not in its profile: blocked). */
  noisy: {
    tokens: [200, 300],
    tokensPerMs: 100,
    decide: (m, random) => {
      if (random() >= 0.2) return { label: severityOf(m.errorRate, m.users), page: false };
      return { label: Severity.options[Math.floor(random() * 3)] ?? "low", page: random() < 0.5 };
    },
  },
  /** The full rule on a large model: as right as `careful`, several times the tokens and the time. */
  slow: { tokens: [1_000, 1_600], tokensPerMs: 50, decide: (m) => ({ label: severityOf(m.errorRate, m.users), page: false }) },
} as const satisfies Record<string, ClassifierModel>;

export type ClassifierName = keyof typeof models;

/** A triage classifier: one `classify` action per case, metering the model tokens it used. */
export class Classifier extends Actor<CaseMsg> {
  static override readonly protocol = CaseMsg;
  static override readonly profile = defineProfile({
    actions: {
      classify: { params: z.object({ case: z.string().max(64) }), rate: { max: 10_000, windowMs: 1_000 }, maxUnits: { tokens: 4_000 } },
    },
    peers: [],
  });
  readonly #model: ClassifierModel;
  readonly #random: Random;

  constructor(model: ClassifierName, seed: number) {
    super();
    this.#model = models[model];
    this.#random = seededRandom(seed);
  }

  async handle(msg: CaseMsg, ctx: ActorContext): Promise<z.infer<typeof Answer>> {
    const decided = this.#model.decide(msg, this.#random);
    const tokens = intBetween(this.#random, ...this.#model.tokens);
    if (decided.page) {
      // outside the profile: blocked before it runs, recorded by the runtime as a violation
      await ctx.act("page_oncall", { case: msg.id }, () => undefined).catch((error: unknown) => {
        if (!hasCode(error, "ERR_PROFILE_VIOLATION")) throw error;
      });
    }
    const label = await ctx.act("classify", { case: msg.id }, async () => {
      ctx.meter("tokens", tokens);
      await sleep(tokens / this.#model.tokensPerMs);
      return decided.label;
    });
    return { label };
  }
}

interface TriageTask extends ScenarioTask {
  readonly message: CaseMsg;
}

/** Log-normal measurement noise (σ of the log) on each signal an agent sees: about 6% of the measured cases fall on the other side of a threshold (5-9% over 400 cases, seeds 1-5). */
const MEASUREMENT_NOISE = 0.4;

/** Incidents: error rate log-uniform in [0.3%, 100%], users log-uniform in [1, 10,000], each measured with noise. */
const workload = (random: Random, size: number): TriageTask[] =>
  Array.from({ length: size }, (_, i) => {
    const errorRate = 10 ** (-2.5 + 2.5 * random());
    const users = Math.round(10 ** (4 * random()));
    const measuredRate = Math.min(1, errorRate * Math.exp(MEASUREMENT_NOISE * normal(random)));
    const measuredUsers = Math.max(0, Math.round(users * Math.exp(MEASUREMENT_NOISE * normal(random))));
    const id = `inc-${i + 1}`;
    return { id, message: { type: "case", id, errorRate: measuredRate, users: measuredUsers }, expected: severityOf(errorRate, users) };
  });

const score = (task: ScenarioTask, reply: AgentReply): boolean => {
  if (!reply.ok) return false;
  const answer = Answer.safeParse(reply.value);
  return answer.success && answer.data.label === task.expected;
};

export const triage: Scenario = {
  name: "triage",
  description: "four classifiers label incidents low/high/critical from noisy measurements (careful, quick, noisy, slow)",
  unit: "tokens",
  defaultTasks: 40,
  agents: [
    { id: "careful", role: "the full rule, mid-sized model", actor: Classifier, args: ({ seed }) => ["careful", seed] },
    { id: "quick", role: "error rate only: cheap, fast, misses user-driven severity", actor: Classifier, args: ({ seed }) => ["quick", seed] },
    { id: "noisy", role: "guesses one case in five; tries to page the on-call when unsure (blocked)", actor: Classifier, args: ({ seed }) => ["noisy", seed] },
    { id: "slow", role: "the full rule on a large model: same answers, more tokens and time", actor: Classifier, args: ({ seed }) => ["slow", seed] },
  ],
  workload,
  score,
};
