import { ConsensusMessage, TETHER_EXT_PREFIX, TetherError, isTetherError, type Proposal, type ProposalRecord, type Vote, type VoteRefusal } from "../../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, TimerHandle } from "../../runtime/index.ts";
import type { ConsensusPort } from "./consensus-port.ts";
import { tally } from "./tally.ts";
import { RefusalBudget } from "../refusal-budget.ts";

export interface ConsensusState {
  type: "tether.consensus.v1.state";
  proposals: Record<string, ProposalRecord>;
}

export interface ConsensusDeps {
  readonly port: ConsensusPort;
  /** How often deadlines are checked (on the port's clock). Default 1 s. */
  readonly tickMs?: number;
  /** Proposals kept (open or not); a new one beyond this is refused. Default 200. */
  readonly maxProposals?: number;
}

/** ECT parents are bounded (100); a decision names its first 100 accepted votes. */
const MAX_PARENTS = 100;
const MAX_REFUSED = 1_000;

const refuse = (reason: VoteRefusal, detail: string): TetherError => new TetherError("ERR_CONSENSUS_VOTE_REFUSED", `vote refused (${reason}): ${detail}`, { details: { reason, detail } });
const proposalError = (message: string): TetherError => new TetherError("ERR_CONSENSUS_PROPOSAL", message);

/**
 * The consensus actor: trust-weighted voting among the agents that advertise a capability. Votes are
 * ECTs signed with each voter's own agent key; forged, duplicate, late, ineligible votes (and votes for
 * unknown options) are refused, kept in the proposal's record and written as `violation` ledger events.
 * A proposal is tallied when every eligible voter voted or at its deadline: the decision (or the
 * escalation, for no quorum, a tie or no option meeting the rule) is an ECT whose parents are the votes.
 * `resolve` with the truth moves each voter's trust. State is checkpointed after every change.
 */
export class ConsensusActor {
  static readonly protocol = ConsensusMessage;
  static readonly capabilities: readonly string[] = ["consensus"];
  state: ConsensusState = { type: "tether.consensus.v1.state", proposals: {} };
  readonly #deps: ConsensusDeps;
  #timer: TimerHandle | undefined;
  readonly #refusals = new RefusalBudget();
  #self = "";

  constructor(deps: ConsensusDeps) {
    this.#deps = deps;
  }

  onStart(ctx: ActorLifecycleContext): void {
    this.#self = ctx.self;
    if (this.state?.type !== "tether.consensus.v1.state") this.state = { type: "tether.consensus.v1.state", proposals: {} };
    const { clock } = this.#deps.port;
    this.#timer = clock.setInterval(() => {
      try {
        this.#deps.port.tell(this.#self, { type: "tether.consensus.v1.tick" });
      } catch {
        /* stopping or full: the next tick catches up */
      }
    }, this.#deps.tickMs ?? 1_000);
    this.#timer.unref?.();
  }

  onStop(): void {
    if (this.#timer !== undefined) this.#deps.port.clock.clearInterval(this.#timer);
  }

  async handle(msg: ConsensusMessage, ctx: ActorContext): Promise<unknown> {
    switch (msg.type) {
      case "tether.consensus.v1.propose":
        return this.#propose(msg, ctx);
      case "tether.consensus.v1.vote":
        return this.#vote(msg, ctx);
      case "tether.consensus.v1.get":
        return structuredClone(this.#get(msg.proposal));
      case "tether.consensus.v1.tick": {
        const now = this.#deps.port.clock.now();
        const due = Object.values(this.state.proposals).filter((r) => r.status === "open" && now > r.proposal.deadline);
        for (const r of due) await this.#finalize(r);
        if (due.length > 0) await ctx.checkpoint();
        return undefined;
      }
      case "tether.consensus.v1.resolve": {
        const rec = this.#get(msg.proposal);
        if (rec.status !== "decided" && rec.status !== "escalated") throw proposalError(`proposal ${rec.proposal.id} is ${rec.status}: it can be resolved once, after it was tallied`);
        if (!rec.proposal.options.includes(msg.truth)) throw proposalError(`${msg.truth} is not an option of proposal ${rec.proposal.id}`);
        rec.status = "resolved";
        rec.truth = msg.truth;
        await ctx.checkpoint();
        for (const v of rec.votes) await this.#deps.port.reportTrust(this.#self, v.voter, v.choice === msg.truth, v.jti);
        await this.#deps.port.record("consensus.resolved", rec.proposal.id, { truth: msg.truth, decision: rec.decision ?? null, voters: rec.votes.length });
        return structuredClone(rec);
      }
    }
  }

  #get(id: string): ProposalRecord {
    const rec = this.state.proposals[id];
    if (rec === undefined) throw proposalError(`no proposal ${id}`);
    return rec;
  }

  async #propose(p: Proposal, ctx: ActorContext): Promise<ProposalRecord> {
    const port = this.#deps.port;
    if (this.state.proposals[p.id] !== undefined) throw proposalError(`proposal ${p.id} exists already`);
    if (Object.keys(this.state.proposals).length >= (this.#deps.maxProposals ?? 200)) throw proposalError("the consensus actor holds as many proposals as it may");
    if (new Set(p.options).size !== p.options.length) throw proposalError("the options must be distinct");
    const eligible = await port.eligible(p.capability);
    if (eligible.length === 0) throw proposalError(`no agent advertises ${p.capability}`);
    const rec: ProposalRecord = { proposal: p, status: "open", eligible, votes: [], refused: [], tally: {} };
    this.state.proposals[p.id] = rec;
    await ctx.checkpoint();
    await port.record("consensus.proposed", p.id, { question: p.question, options: p.options, capability: p.capability, rule: p.rule.kind, eligible: eligible.length, deadline: p.deadline });
    return structuredClone(rec);
  }

  async #vote(vote: Vote, ctx: ActorContext): Promise<ProposalRecord> {
    const port = this.#deps.port;
    const rec = this.#get(vote.body.proposal);
    let voter = "?";
    try {
      const verified = await port.verifyVote(vote);
      voter = verified.voter;
      const jti = verified.jti;
      const now = port.clock.now();
      if (rec.status !== "open" || now > rec.proposal.deadline) throw refuse("late", `proposal ${rec.proposal.id} closed (deadline ${rec.proposal.deadline})`);
      if (!rec.eligible.includes(voter)) throw refuse("ineligible", `${voter} does not advertise ${rec.proposal.capability}`);
      if (rec.votes.some((v) => v.voter === voter)) throw refuse("duplicate", `${voter} voted already`);
      if (!rec.proposal.options.includes(vote.body.choice)) throw refuse("invalid-option", `${vote.body.choice} is not an option`);
      const declared = rec.proposal.weights[voter] ?? 1;
      const trust = await port.trustOf(voter);
      rec.votes.push({ voter, choice: vote.body.choice, jti, declared, trust, weight: declared * trust, at: Math.floor(now) });
      if (rec.votes.length === rec.eligible.length) await this.#finalize(rec);
      await ctx.checkpoint();
      return structuredClone(rec);
    } catch (error) {
      const details = isTetherError(error) ? error.details : {};
      const reason = (typeof details["reason"] === "string" ? details["reason"] : "forged") as VoteRefusal;
      const detail = (error instanceof Error ? error.message : String(error)).slice(0, 512);
      if (rec.refused.length < MAX_REFUSED) rec.refused.push({ voter, reason, detail, at: Math.floor(port.clock.now()) });
      await ctx.checkpoint().catch(() => undefined);
      const record = this.#refusals.take(port.clock.now(), { source: "consensus", code: "ERR_CONSENSUS_VOTE_REFUSED", proposal: rec.proposal.id, voter, reason, at: port.clock.now() });
      if (record !== undefined) await port.record("violation", this.#self, record);
      if (isTetherError(error) && error.code === "ERR_CONSENSUS_VOTE_REFUSED") throw error;
      throw refuse("forged", detail);
    }
  }

  async #finalize(rec: ProposalRecord): Promise<void> {
    const port = this.#deps.port;
    const p = rec.proposal;
    const quorum = p.quorum ?? Math.floor(rec.eligible.length / 2) + 1;
    const result = tally(rec.votes, p.options, p.rule, rec.eligible.length, quorum);
    rec.tally = result.tally;
    const decided = result.kind === "decided";
    rec.status = decided ? "decided" : "escalated";
    if (decided) rec.decision = result.decision;
    else rec.escalation = result.reason;
    const ect = await port.mint({
      actorId: this.#self,
      act: decided ? "consensus.decide" : "consensus.escalate",
      par: rec.votes.slice(0, MAX_PARENTS).map((v) => v.jti),
      wid: undefined,
      input: { proposal: p.id, question: p.question, rule: p.rule, tally: rec.tally },
      output: decided ? { decision: result.decision } : { escalation: result.reason },
      ext: { [`${TETHER_EXT_PREFIX}proposal`]: p.id },
    });
    rec.ect = ect.jti;
    await port.record(decided ? "consensus.decided" : "consensus.escalated", p.id, {
      ...(decided ? { decision: result.decision } : { reason: result.reason }),
      tally: rec.tally,
      votes: rec.votes.length,
      refused: rec.refused.length,
      ect: ect.jti,
    });
    if (!decided) await port.escalate(rec);
  }
}
