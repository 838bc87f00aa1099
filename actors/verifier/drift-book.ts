import { z } from "zod";
import { PageHinkleyParams, baselineSd, initialPageHinkley, pageHinkleyStep, type PageHinkleyState } from "./page-hinkley.ts";

/** One action of one agent, as the verifier reads it from the ECT stream (see verifier-port.ts). */
export interface EctObservation {
  readonly jti: string;
  readonly agent: string;
  readonly act: string;
  /** When it was minted, in ms. */
  readonly at: number;
  readonly outcome: "ok" | "failed" | "refused";
  /** The action's params when the record carries them (compensable actions), checked against inp_hash. */
  readonly params?: Record<string, unknown> | undefined;
  /** Metered units (`ext` usage). */
  readonly units?: number | undefined;
  /** The agent whose ECT this action continued (its parent's issuer): the peer that caused it. */
  readonly peer?: string | undefined;
}

export const VerifierParams = z.strictObject({
  /** Page–Hinkley settings for per-observation series (intervals, params, units). */
  detector: PageHinkleyParams.default(PageHinkleyParams.parse({})),
  /** Rates of events (failures, unseen peers) are tested as means over blocks of this many actions. */
  blockSize: z.int().min(1).max(1000).default(10),
  /** Baseline length, in blocks, of the block series. */
  blockBaseline: z.int().min(2).max(10_000).default(20),
  /** Floor of a block series' baseline sd (an agent that never failed still may fail now and then). */
  blockMinSigma: z.number().positive().max(1).default(0.1),
  maxAgents: z.int().min(1).max(100_000).default(10_000),
  maxSeriesPerAgent: z.int().min(4).max(256).default(32),
  /** Peers remembered as an agent's baseline set. */
  maxPeers: z.int().min(1).max(1000).default(64),
  /** Series not monitored (e.g. `rate` where the wall-clock pace of an agent is not stationary). */
  ignoreSeries: z.array(z.string().max(256)).max(64).default([]),
  /** Findings kept in state for `findings` queries (the ledger keeps all). */
  maxFindings: z.int().min(1).max(10_000).default(200),
});
export type VerifierParams = z.infer<typeof VerifierParams>;
export type VerifierParamsInput = z.input<typeof VerifierParams>;

export interface DriftFinding {
  readonly agent: string;
  /** `rate` (inter-action interval), `failure`, `peer` (share of actions caused by peers unseen in the baseline), `<act>.<param>`, `<act>.units`. */
  readonly series: string;
  readonly direction: "up" | "down";
  readonly statistic: number;
  readonly baselineMean: number;
  readonly baselineSd: number;
  /** Observations of the series tested after its baseline until the alarm. */
  readonly after: number;
  /** The ECT whose observation raised the alarm. */
  readonly ect: string;
  readonly at: number;
}

interface Block {
  sum: number;
  n: number;
}

export interface AgentSeries {
  lastAt?: number;
  seen: number;
  peers: string[];
  series: Record<string, PageHinkleyState>;
  blocks: Record<string, Block>;
}

export interface VerifierState {
  type: "tether.verifier.v1.state";
  /** Stream sequence of the last ECT record appraised. */
  position: number;
  observed: number;
  agents: Record<string, AgentSeries>;
  findings: DriftFinding[];
}

export const initialVerifierState = (): VerifierState => ({ type: "tether.verifier.v1.state", position: 0, observed: 0, agents: {}, findings: [] });

/**
 * The verifier's books: per agent, one Page–Hinkley detector per monitored series, each judged
 * against the agent's own baseline window. Mutates the state it wraps; pure otherwise (no I/O, no clock).
 */
export class DriftBook {
  readonly #state: VerifierState;
  readonly #p: VerifierParams;
  readonly #blockDetector: PageHinkleyParams;

  constructor(state: VerifierState, params: VerifierParams) {
    this.#state = state;
    this.#p = params;
    this.#blockDetector = { ...params.detector, baseline: params.blockBaseline, minSigma: params.blockMinSigma };
  }

  /** Appraises one action; resolves with the findings it raised (usually none). */
  observe(o: EctObservation): DriftFinding[] {
    const state = this.#state;
    state.observed += 1;
    let agent = state.agents[o.agent];
    if (agent === undefined) {
      if (Object.keys(state.agents).length >= this.#p.maxAgents) return [];
      agent = { seen: 0, peers: [], series: {}, blocks: {} };
      state.agents[o.agent] = agent;
    }
    const found: DriftFinding[] = [];
    const feed = (name: string, x: number) => this.#feed(agent, o, name, x, this.#p.detector, found);
    if (agent.lastAt !== undefined && o.at >= agent.lastAt) feed("rate", o.at - agent.lastAt);
    agent.lastAt = Math.max(agent.lastAt ?? 0, o.at);
    this.#block(agent, o, "failure", o.outcome === "ok" ? 0 : 1, found);
    if (o.peer !== undefined) {
      const inBaseline = agent.peers.includes(o.peer);
      if (agent.seen < this.#p.detector.baseline) {
        if (!inBaseline && agent.peers.length < this.#p.maxPeers) agent.peers.push(o.peer);
      } else this.#block(agent, o, "peer", inBaseline ? 0 : 1, found);
    }
    for (const [key, value] of Object.entries(o.params ?? {})) if (typeof value === "number") feed(`${o.act}.${key}`, value);
    if (o.units !== undefined) feed(`${o.act}.units`, o.units);
    agent.seen += 1;
    if (found.length > 0) {
      state.findings.push(...found);
      if (state.findings.length > this.#p.maxFindings) state.findings.splice(0, state.findings.length - this.#p.maxFindings);
    }
    return found;
  }

  #block(agent: AgentSeries, o: EctObservation, name: string, x: number, found: DriftFinding[]): void {
    const block = (agent.blocks[name] ??= { sum: 0, n: 0 });
    block.sum += x;
    block.n += 1;
    if (block.n < this.#p.blockSize) return;
    const mean = block.sum / block.n;
    block.sum = 0;
    block.n = 0;
    this.#feed(agent, o, name, mean, this.#blockDetector, found);
  }

  #feed(agent: AgentSeries, o: EctObservation, name: string, x: number, p: PageHinkleyParams, found: DriftFinding[]): void {
    if (this.#p.ignoreSeries.includes(name)) return;
    let detector = agent.series[name];
    if (detector === undefined) {
      if (Object.keys(agent.series).length >= this.#p.maxSeriesPerAgent) return;
      detector = initialPageHinkley();
      agent.series[name] = detector;
    }
    const alarm = pageHinkleyStep(detector, x, p);
    if (alarm !== undefined) found.push({ agent: o.agent, series: name, ...alarm, ect: o.jti, at: o.at });
  }

  /** Per agent and series: the baseline and the current statistics (what `findings`/`show` report). */
  describe(agentId: string): Record<string, { baselineMean: number; baselineSd: number; inBaseline: boolean; up: number; down: number }> | undefined {
    const agent = this.#state.agents[agentId];
    if (agent === undefined) return undefined;
    return Object.fromEntries(
      Object.entries(agent.series).map(([name, s]) => {
        const p = agent.blocks[name] === undefined ? this.#p.detector : this.#blockDetector;
        return [name, { baselineMean: s.mean, baselineSd: baselineSd(s, p), inBaseline: s.n < p.baseline, up: s.up, down: s.down }];
      }),
    );
  }
}
