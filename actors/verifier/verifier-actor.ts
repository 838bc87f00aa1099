import { TETHER_EXT_PREFIX } from "../../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, TimerHandle } from "../../runtime/index.ts";
import { RefusalBudget } from "../refusal-budget.ts";
import { DriftBook, VerifierParams, initialVerifierState, type DriftFinding, type VerifierParamsInput, type VerifierState } from "./drift-book.ts";
import { VerifierMessage, type AppraisalResult, type VerifierFinding } from "./verifier-messages.ts";
import type { VerifierPort } from "./verifier-port.ts";

/** The ECT node type of a drift finding (`exec_act`). */
export const DRIFT_ACT = "tether.verifier.drift";

export interface VerifierDeps {
  readonly port: VerifierPort;
  readonly params?: VerifierParamsInput;
  /** Appraise every this many ms on the port's clock (the actor's own timer); absent: only on request. */
  readonly appraiseEveryMs?: number;
  /** Records per timed appraisal (default 1,000; the next tick follows at once while more are stored). */
  readonly appraiseLimit?: number;
}

/**
 * The drift verifier: appraises the ECT stream after the fact. On `appraise` it reads the records
 * stored since its last position, feeds each verified action to its per-agent Page–Hinkley detectors
 * (docs/verifier.md), and for each alarm mints a drift evidence ECT (`tether.verifier.drift`, parent:
 * the action that raised it) and appends a `drift` ledger event. Records whose token does not verify
 * are a `violation` event. Detector state and stream position are checkpointed after each batch, so a
 * restarted verifier resumes where it stopped without re-learning its baselines.
 */
export class VerifierActor {
  static readonly protocol = VerifierMessage;
  static readonly capabilities: readonly string[] = ["verifier"];
  state: VerifierState = initialVerifierState();
  readonly #port: VerifierPort;
  readonly #params: VerifierParams;
  readonly #refusals = new RefusalBudget();
  readonly #everyMs: number | undefined;
  readonly #limit: number;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #self = "";

  constructor(deps: VerifierDeps) {
    this.#port = deps.port;
    this.#params = VerifierParams.parse(deps.params ?? {});
    this.#everyMs = deps.appraiseEveryMs;
    this.#limit = deps.appraiseLimit ?? 1000;
  }

  onStart(ctx: ActorLifecycleContext): void {
    this.#self = ctx.self;
    if (this.state?.type !== "tether.verifier.v1.state") this.state = initialVerifierState();
    this.#arm(this.#everyMs);
  }

  onStop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#port.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The appraisal schedule: the actor tells itself to appraise after `ms`; the tick re-arms when done. */
  #arm(ms: number | undefined): void {
    if (ms === undefined || this.#stopped) return;
    if (this.#timer !== undefined) this.#port.clock.clearTimeout(this.#timer);
    this.#timer = this.#port.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#port.tell(this.#self, { type: "tether.verifier.v1.appraise", limit: this.#limit, tick: true });
    }, ms);
  }

  async handle(msg: VerifierMessage, ctx: ActorContext): Promise<unknown> {
    switch (msg.type) {
      case "tether.verifier.v1.appraise": {
        if (msg.tick !== true) return this.#appraise(msg.limit, ctx);
        try {
          const result = await this.#appraise(msg.limit, ctx);
          this.#arm(result.more ? 0 : this.#everyMs);
          return result;
        } catch (error) {
          this.#arm(this.#everyMs);
          throw error;
        }
      }
      case "tether.verifier.v1.findings":
        return this.state.findings.filter((f) => msg.agent === undefined || f.agent === msg.agent);
      case "tether.verifier.v1.show":
        return new DriftBook(this.state, this.#params).describe(msg.agent) ?? {};
    }
  }

  async #appraise(limit: number, ctx: ActorContext): Promise<AppraisalResult> {
    const book = new DriftBook(this.state, this.#params);
    const entries = await this.#port.read(this.state.position, limit + 1);
    const batch = entries.slice(0, limit);
    const findings: VerifierFinding[] = [];
    let appraised = 0;
    let rejected = 0;
    for (const entry of batch) {
      this.state.position = entry.seq;
      if (entry.rejected !== undefined) {
        rejected += 1;
        const details = this.#refusals.take(this.#port.now(), { source: "verifier", code: "ERR_ECT_CLAIM_INVALID", reason: entry.rejected, seq: entry.seq });
        if (details !== undefined) await this.#port.record("violation", this.#self, details);
      }
      if (entry.observation === undefined) continue;
      appraised += 1;
      for (const finding of book.observe(entry.observation)) {
        const recorded = await this.#evidence(finding);
        const at = this.state.findings.indexOf(finding);
        if (at >= 0) this.state.findings[at] = recorded;
        findings.push(recorded);
      }
    }
    await ctx.checkpoint();
    return { appraised, rejected, position: this.state.position, more: entries.length > limit, findings };
  }

  async #evidence(finding: DriftFinding): Promise<VerifierFinding> {
    const drift = { agent: finding.agent, series: finding.series, direction: finding.direction, statistic: round(finding.statistic), baselineMean: round(finding.baselineMean), baselineSd: round(finding.baselineSd), after: finding.after };
    const minted = await this.#port.mint({ actorId: this.#self, act: DRIFT_ACT, par: [finding.ect], wid: undefined, input: finding, ext: { [`${TETHER_EXT_PREFIX}drift`]: drift } });
    await this.#port.record("drift", finding.agent, { ...drift, ect: finding.ect, evidence: minted.jti, method: "page-hinkley" });
    return { ...finding, evidence: minted.jti };
  }
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;
