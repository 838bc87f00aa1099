import { TetherError, type EvidenceEntry, type ObserverShare, type TrustExplanation, type TrustOutcome, type TrustQuarantine, type TrustScore } from "../../protocols/index.ts";
import { addEvidence, betaScore, decayed, type Evidence, type TrustParams } from "./beta-reputation.ts";

/**
 * How much the trust actor keeps (its checkpoint is one KV value, bounded by the server's max_payload:
 * roughly agents × observers × 60 B + seen × 60 B). Reports beyond a limit are refused (ERR_TRUST_LIMIT)
 * and recorded, never silently dropped; the oldest remembered report ids are dropped only once expired.
 */
export interface TrustLimits {
  /** Agents with a score. Default 200. */
  readonly agents: number;
  /** Observers counted per agent. Default 32. */
  readonly observersPerAgent: number;
  /** Recent reports kept per agent for `show`. Default 10. */
  readonly recentPerAgent: number;
  /** Report ids remembered against replay (until their token expires). Default 4,096. */
  readonly seen: number;
}

export const DEFAULT_TRUST_LIMITS: TrustLimits = { agents: 200, observersPerAgent: 32, recentPerAgent: 10, seen: 4_096 };

interface AgentEntry {
  observers: Record<string, Evidence>;
  reports: number;
  recent: EvidenceEntry[];
}

/** The trust actor's checkpointed state. */
export interface TrustState {
  type: "tether.trust.v1.state";
  agents: Record<string, AgentEntry>;
  /** Report jti → epoch ms until which a replay of it must be refused. */
  seen: Record<string, number>;
  /** ECT stream sequence the counted outcomes cover (records after it are read by the next ingest). */
  position?: number;
  /** Server timestamp (ms) of the record at `position` (the replay memory is rebuilt from there after a restart). */
  positionAt?: number;
  /** [jti, stored-at] of the latest records counted within the store window (the replay memory across a restart; at most 2,000). */
  recentJtis?: [string, number][];
  /** Agents whose score is below the quarantine threshold (quarantined once per fall below it). */
  below?: Record<string, true>;
  /** Quarantines issued per agent (the next one's override id is fixed by it). */
  quarantineCount?: Record<string, number>;
  /** The latest quarantines (at most 100), pending ones (acked null, no error) are retried. */
  quarantines?: TrustQuarantine[];
}

export const initialTrustState = (): TrustState => ({ type: "tether.trust.v1.state", agents: {}, seen: {}, position: 0, positionAt: 0, below: {}, quarantineCount: {}, quarantines: [] });

/** A report the port verified: who observed, what, and the report's ECT id. */
export interface AcceptedReport {
  readonly observer: string;
  readonly subject: string;
  readonly outcome: TrustOutcome;
  readonly count: number;
  readonly jti: string;
  readonly expiresAt: number;
  readonly evidence?: string | undefined;
  readonly note?: string | undefined;
}

/** Pure operations over `TrustState` (the actor checkpoints after each change). */
export class TrustBook {
  readonly #s: TrustState;
  readonly #params: TrustParams;
  readonly #limits: TrustLimits;

  constructor(state: TrustState, params: TrustParams, limits: TrustLimits = DEFAULT_TRUST_LIMITS) {
    this.#s = state;
    this.#params = params;
    this.#limits = limits;
  }

  /** Refuses a report id seen before (a replay), and remembers it until its token expires. */
  remember(jti: string, expiresAt: number, now: number): void {
    const seen = this.#s.seen;
    if (Object.hasOwn(seen, jti)) throw new TetherError("ERR_TRUST_REPORT_INVALID", `report ${jti} was already counted (replay)`, { details: { jti, reason: "replay" } });
    const ids = Object.keys(seen);
    if (ids.length >= this.#limits.seen) {
      for (const id of ids) if ((seen[id] ?? 0) <= now) delete seen[id];
      if (Object.keys(seen).length >= this.#limits.seen) throw new TetherError("ERR_TRUST_LIMIT", "too many unexpired reports remembered; try again later", { retryable: true, details: { limit: this.#limits.seen } });
    }
    seen[jti] = expiresAt;
  }

  /** Counts one verified report; returns the subject's new score. */
  apply(r: AcceptedReport, now: number): TrustScore {
    let entry = this.#s.agents[r.subject];
    if (entry === undefined) {
      if (Object.keys(this.#s.agents).length >= this.#limits.agents) throw limit("agents", this.#limits.agents);
      entry = { observers: {}, reports: 0, recent: [] };
      this.#s.agents[r.subject] = entry;
    }
    const previous = entry.observers[r.observer];
    if (previous === undefined && Object.keys(entry.observers).length >= this.#limits.observersPerAgent) throw limit("observers per agent", this.#limits.observersPerAgent);
    entry.observers[r.observer] = addEvidence(previous, r.outcome, r.count, now, this.#params);
    entry.reports++;
    entry.recent.push({
      observer: r.observer,
      outcome: r.outcome,
      count: r.count,
      at: now,
      report: r.jti,
      ...(r.evidence === undefined ? {} : { evidence: r.evidence }),
      ...(r.note === undefined ? {} : { note: r.note }),
    });
    if (entry.recent.length > this.#limits.recentPerAgent) entry.recent.splice(0, entry.recent.length - this.#limits.recentPerAgent);
    return this.score(r.subject, now);
  }

  /** Links the assertion ECT minted for the latest report about `subject`. */
  noteAssertion(subject: string, reportJti: string, assertionJti: string): void {
    const last = this.#s.agents[subject]?.recent.findLast((e) => e.report === reportJti);
    if (last !== undefined) last.assertion = assertionJti;
  }

  /** Links a batch's assertion ECT to the evidence lines of the records it counted. */
  noteBatchAssertion(subjects: Iterable<string>, records: ReadonlySet<string>, assertionJti: string): void {
    for (const subject of subjects) for (const line of this.#s.agents[subject]?.recent ?? []) if (records.has(line.report)) line.assertion = assertionJti;
  }

  /** The score of any agent: the newcomer prior when nobody reported on it. */
  score(agent: string, now: number): TrustScore {
    const entry = this.#s.agents[agent];
    const evidence = entry === undefined ? [] : Object.values(entry.observers);
    const { alpha, beta, score } = betaScore(evidence, now, this.#params);
    return { agent, score, alpha, beta, observers: evidence.length, reports: entry?.reports ?? 0, at: Math.floor(now) };
  }

  list(now: number): TrustScore[] {
    return Object.keys(this.#s.agents)
      .sort()
      .map((a) => this.score(a, now));
  }

  explain(agent: string, now: number): TrustExplanation {
    const entry = this.#s.agents[agent];
    const shares: ObserverShare[] = Object.entries(entry?.observers ?? {}).map(([observer, e]) => {
      const d = decayed(e, now, this.#params.halfLifeMs);
      const cap = this.#params.observerCap;
      return { observer, positive: d.pos, negative: d.neg, capped: d.pos >= cap - 1e-9 || d.neg >= cap - 1e-9, reports: e.reports, lastAt: Math.floor(e.at) };
    });
    return {
      score: this.score(agent, now),
      prior: { ...this.#params.prior },
      halfLifeMs: this.#params.halfLifeMs,
      observerCap: this.#params.observerCap,
      shares,
      recent: structuredClone(entry?.recent ?? []),
    };
  }
}

const limit = (what: string, n: number) => new TetherError("ERR_TRUST_LIMIT", `the trust actor keeps at most ${n} ${what}`, { retryable: false, details: { what, limit: n } });
