import { TETHER_EXT_PREFIX, TrustMessage, isTetherError, type TrustReport, type TrustScore } from "../../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext } from "../../runtime/index.ts";
import { TrustParams, type TrustParamsInput } from "./beta-reputation.ts";
import { DEFAULT_TRUST_LIMITS, TrustBook, initialTrustState, type TrustLimits, type TrustState } from "./trust-book.ts";
import type { TrustPort } from "./trust-port.ts";
import { RefusalBudget } from "../refusal-budget.ts";

export interface TrustDeps {
  readonly port: TrustPort;
  readonly params?: TrustParamsInput;
  readonly limits?: Partial<TrustLimits>;
}

/**
 * The network's trust actor: scores agents from authenticated outcome reports (beta reputation with
 * exponential decay, per-observer caps, a newcomer prior; see docs/trust.md). Each accepted report is
 * an assertion ECT (parent: the observer's report ECT) and a `trust.updated` ledger event; each refused
 * report a `violation` event. State (scores, evidence, replay memory) is checkpointed after each change.
 */
export class TrustActor {
  static readonly protocol = TrustMessage;
  static readonly capabilities: readonly string[] = ["trust"];
  state: TrustState = initialTrustState();
  readonly #port: TrustPort;
  readonly #params: TrustParams;
  readonly #limits: TrustLimits;
  readonly #refusals = new RefusalBudget();
  #self = "";

  constructor(deps: TrustDeps) {
    this.#port = deps.port;
    this.#params = TrustParams.parse(deps.params ?? {});
    this.#limits = { ...DEFAULT_TRUST_LIMITS, ...deps.limits };
  }

  onStart(ctx: ActorLifecycleContext): void {
    this.#self = ctx.self;
    if (this.state?.type !== "tether.trust.v1.state") this.state = initialTrustState();
  }

  async handle(msg: TrustMessage, ctx: ActorContext): Promise<unknown> {
    const book = new TrustBook(this.state, this.#params, this.#limits);
    const now = this.#port.clock.now();
    switch (msg.type) {
      case "tether.trust.v1.report":
        return this.#report(book, msg, ctx);
      case "tether.trust.v1.score":
        return book.score(msg.agent, now);
      case "tether.trust.v1.show":
        return book.explain(msg.agent, now);
      case "tether.trust.v1.list":
        return book.list(now);
    }
  }

  async #report(book: TrustBook, msg: TrustReport, ctx: ActorContext): Promise<TrustScore> {
    const port = this.#port;
    try {
      const report = await port.verify(msg);
      const now = port.clock.now();
      book.remember(report.jti, report.expiresAt, now);
      const score = book.apply(report, now);
      const assertion = await port.mint({
        actorId: this.#self,
        act: "trust.assert",
        par: [report.jti],
        wid: undefined,
        input: { subject: report.subject, outcome: report.outcome, count: report.count, observer: report.observer },
        output: { score: score.score, alpha: score.alpha, beta: score.beta },
        ext: { [`${TETHER_EXT_PREFIX}trust-subject`]: report.subject, [`${TETHER_EXT_PREFIX}trust-score`]: Math.round(score.score * 1e6) / 1e6 },
      });
      book.noteAssertion(report.subject, report.jti, assertion.jti);
      await ctx.checkpoint();
      await port.record("trust.updated", report.subject, {
        observer: report.observer,
        outcome: report.outcome,
        count: report.count,
        score: score.score,
        alpha: score.alpha,
        beta: score.beta,
        report: report.jti,
        ect: assertion.jti,
      });
      return score;
    } catch (error) {
      const code = isTetherError(error) ? error.code : "ERR_TRUST_REPORT_INVALID";
      const details = this.#refusals.take(port.clock.now(), {
        source: "trust",
        code,
        reason: (error instanceof Error ? error.message : String(error)).slice(0, 512),
        subject: msg.body.subject,
        at: port.clock.now(),
      });
      if (details !== undefined) await port.record("violation", this.#self, details);
      throw error;
    }
  }
}
