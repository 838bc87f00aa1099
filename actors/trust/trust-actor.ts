import { TETHER_EXT_PREFIX, TetherError, TrustMessage, isTetherError, type TrustIngestResult, type TrustReport, type TrustScore } from "../../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, TimerHandle } from "../../runtime/index.ts";
import { TrustParams, type TrustParamsInput } from "./beta-reputation.ts";
import { DEFAULT_TRUST_LIMITS, TrustBook, initialTrustState, type TrustLimits, type TrustState } from "./trust-book.ts";
import type { TrustPort } from "./trust-port.ts";
import { RefusalBudget } from "../refusal-budget.ts";
import { decideQuarantines, ingest, issueQuarantines } from "./trust-ingest.ts";

export interface TrustDeps {
  readonly port: TrustPort;
  readonly params?: TrustParamsInput;
  readonly limits?: Partial<TrustLimits>;
  /** Ingest the ECT stream every this many ms on the port's clock (the actor's own timer); absent: only on request. */
  readonly ingestEveryMs?: number;
  /** Records read per ingest at most (default 5,000). */
  readonly ingestLimit?: number;
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
  readonly #everyMs: number | undefined;
  readonly #ingestLimit: number;
  /** Replay memory of the ECT stream; undefined until rebuilt after a start. */
  #seen: Map<string, number> | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #self = "";

  constructor(deps: TrustDeps) {
    this.#port = deps.port;
    this.#params = TrustParams.parse(deps.params ?? {});
    this.#limits = { ...DEFAULT_TRUST_LIMITS, ...deps.limits };
    this.#everyMs = deps.ingestEveryMs;
    this.#ingestLimit = deps.ingestLimit ?? 5_000;
  }

  onStart(ctx: ActorLifecycleContext): void {
    this.#self = ctx.self;
    if (this.state?.type !== "tether.trust.v1.state") this.state = initialTrustState();
    this.#arm(this.#everyMs);
  }

  onStop(): void {
    if (this.#timer !== undefined) this.#port.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stopped = true;
  }

  /** The actor's own timer: tells itself to ingest after `ms` (the tick re-arms when it is done). */
  #arm(ms: number | undefined): void {
    if (ms === undefined || this.#stopped || this.#port.feed === undefined) return;
    if (this.#timer !== undefined) this.#port.clock.clearTimeout(this.#timer);
    this.#timer = this.#port.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#port.tell(this.#self, { type: "tether.trust.v1.ingest", limit: this.#ingestLimit, tick: true });
    }, ms);
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
      case "tether.trust.v1.quarantines":
        return structuredClone(this.state.quarantines ?? []);
      case "tether.trust.v1.ingest": {
        try {
          const result = await this.#ingest(book, msg.limit, ctx);
          if (msg.tick === true) this.#arm(result.more ? 0 : this.#everyMs);
          return result;
        } catch (error) {
          if (msg.tick === true) this.#arm(this.#everyMs);
          throw error;
        }
      }
    }
  }

  async #ingest(book: TrustBook, limit: number, ctx: ActorContext): Promise<TrustIngestResult> {
    const port = this.#port;
    if (port.feed === undefined) throw new TetherError("ERR_CONFIG_INVALID", "this trust actor reads no ECT stream (its port has no feed)");
    // after a start the replay memory comes from the checkpoint (the KV keeps one revision per record, so a
    // record written again replaces the original in the stream: the stream cannot tell it was counted)
    this.#seen ??= new Map(this.state.recentJtis ?? []);
    return ingest(this.state, book, limit, {
      feed: port.feed,
      quarantine: port.quarantine,
      now: () => port.clock.now(),
      record: (event, subject, details) => port.record(event, subject, details),
      checkpoint: () => ctx.checkpoint(),
      refusals: this.#refusals,
      self: this.#self,
      seen: this.#seen,
      windowMs: port.storeWindowMs,
      assert: async (parents, scores) =>
        (await port.mint({ actorId: this.#self, act: "trust.assert", par: parents, wid: undefined, input: { counted: parents.length, scores }, output: scores, ext: { [`${TETHER_EXT_PREFIX}trust-scores`]: scores } })).jti,
    });
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
      const due = port.quarantine === undefined ? [] : decideQuarantines(this.state, port.quarantine.threshold, new Map([[report.subject, { score, evidence: report.jti }]]), new Map(), now);
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
      if (port.quarantine !== undefined) await issueQuarantines(port.quarantine, due, { record: (e, sub, d) => port.record(e, sub, d), checkpoint: () => ctx.checkpoint() });
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
