import { randomUUID } from "node:crypto";
import { ConsensusMessage, ResolveBody, TETHER_EXT_PREFIX, TetherError, isTetherError, type Proposal, type ProposalRecord, type Vote, type VoteReceipt, type VoteRefusal } from "../../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, DeferredReply, TimerHandle } from "../../runtime/index.ts";
import { ConsensusConfig, checkProposal, policyViolation, type ConsensusConfigInput } from "./consensus-policy.ts";
import type { ConsensusPort } from "./consensus-port.ts";
import { tally } from "./tally.ts";
import { evictOldestClosed, settleFromGate } from "./consensus-escalation.ts";
import { listProposals } from "./consensus-queries.ts";
import { RefusalBudget } from "../refusal-budget.ts";

export interface ConsensusState {
  type: "tether.consensus.v1.state";
  proposals: Record<string, ProposalRecord>;
  /** Trust scores per proposal, read when it opened (the weights' second factor). */
  trust?: Record<string, Record<string, number>>;
  /** Resolve nonces seen (`kid nonce` → expiry), so a captured signed resolve cannot be replayed. */
  nonces?: Record<string, number>;
}

interface PendingVote {
  readonly vote: Vote;
  readonly verified: { voter: string; jti: string } | Error;
  readonly reply: DeferredReply | undefined;
}

export interface ConsensusDeps {
  readonly port: ConsensusPort;
  /** Policies per proposal kind and who may resolve (see `ConsensusConfig`). */
  readonly config?: ConsensusConfigInput;
  /** How often deadlines are checked (on the port's clock). Default 1 s. */
  readonly tickMs?: number;
  /**
   * Proposals kept (one KV value holds them all). At this bound the oldest closed proposal (resolved or
   * rejected, else decided or escalated without a pending gate) is dropped from the state (its ECTs and
   * ledger events remain); when every proposal is open or waits for a gate, a new one is refused. Default 200.
   */
  readonly maxProposals?: number;
  /** Votes (accepted and refused) kept over all proposals, ~250 B each in the checkpoint; beyond it closed proposals are dropped as above. Default 2,000. */
  readonly maxStoredVotes?: number;
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
  readonly #config: ConsensusConfig;
  /** Votes accepted since the last checkpoint, answered once it is saved (group commit). */
  #unsaved: { reply: DeferredReply | undefined; proposal: string; voter: string }[] = [];
  #dirty = false;
  /** Votes whose signature was checked, waiting for their `apply` message (in memory only). */
  readonly #verified = new Map<string, PendingVote>();
  /** Trust scores being read for proposals just opened (see `#takeTrustRead`). */
  readonly #trustReads = new Map<string, Promise<Record<string, number>>>();
  #flushQueued = false;

  constructor(deps: ConsensusDeps) {
    this.#deps = deps;
    this.#config = ConsensusConfig.parse(deps.config ?? {});
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
    const stopped = new TetherError("ERR_ACTOR_STOPPED", "the consensus actor stopped before the vote was saved; vote again");
    for (const w of this.#unsaved) w.reply?.reject(stopped);
    for (const p of this.#verified.values()) p.reply?.reject(stopped);
    this.#unsaved = [];
    this.#verified.clear();
  }

  async handle(msg: ConsensusMessage, ctx: ActorContext): Promise<unknown> {
    switch (msg.type) {
      case "tether.consensus.v1.propose":
        return this.#propose(msg, ctx);
      case "tether.consensus.v1.vote":
        return this.#receive(msg, ctx);
      case "tether.consensus.v1.apply": {
        const pending = this.#verified.get(msg.ref);
        if (pending === undefined) return undefined; // not a vote this actor verified
        this.#verified.delete(msg.ref);
        await this.#apply(pending, ctx);
        return undefined;
      }
      case "tether.consensus.v1.flush":
        this.#flushQueued = false;
        await this.#flush(ctx);
        return undefined;
      case "tether.consensus.v1.get":
        return structuredClone(this.#get(msg.proposal));
      case "tether.consensus.v1.list":
        return listProposals(this.state.proposals, msg.status);
      case "tether.consensus.v1.tick": {
        const now = this.#deps.port.clock.now();
        const due = Object.values(this.state.proposals).filter((r) => r.status === "open" && now > r.proposal.deadline);
        for (const r of due) await this.#finalize(r);
        let changed = due.length > 0;
        for (const r of Object.values(this.state.proposals)) if (r.status === "escalated" && r.approval !== undefined) changed = (await this.#settle(r)) || changed;
        if (changed) this.#dirty = true;
        await this.#flush(ctx);
        return undefined;
      }
      case "tether.consensus.v1.settle": {
        const rec = this.#get(msg.proposal);
        if (rec.status === "escalated" && rec.approval !== undefined && (await this.#settle(rec))) await ctx.checkpoint();
        return structuredClone(rec);
      }
      case "tether.consensus.v1.resolve":
        return this.#resolve(msg.envelope, ctx);
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
    const stored = () => Object.values(this.state.proposals).reduce((n, r) => n + r.votes.length + r.refused.length, 0);
    while (stored() > (this.#deps.maxStoredVotes ?? 2_000) && evictOldestClosed(this.state));
    if (Object.keys(this.state.proposals).length >= (this.#deps.maxProposals ?? 200) && !evictOldestClosed(this.state)) throw proposalError("the consensus actor holds as many proposals as it may (all open or waiting for a gate)");
    if (new Set(p.options).size !== p.options.length) throw proposalError("the options must be distinct");
    const breaches = checkProposal(this.#config, p, port.clock.now());
    if (breaches.length > 0) {
      const error = policyViolation(p, breaches);
      const record = this.#refusals.take(port.clock.now(), { source: "consensus", code: error.code, proposal: p.id, kind: p.kind, breaches: error.details?.["breaches"], at: port.clock.now() });
      if (record !== undefined) await port.record("violation", this.#self, record);
      throw error;
    }
    const eligible = await port.eligible(p.capability);
    if (eligible.length === 0) throw proposalError(`no agent advertises ${p.capability}`);
    const rec: ProposalRecord = { proposal: p, status: "open", eligible, votes: [], refused: [], tally: {} };
    // weights are fixed when the proposal opens: the scores are read now (while the voters sign) and
    // taken by the first vote applied; reports arriving during the vote cannot move them
    const read = port.trustOf(eligible);
    read.catch(() => undefined);
    this.#trustReads.set(p.id, read);
    this.state.proposals[p.id] = rec;
    await ctx.checkpoint();
    await port.record("consensus.proposed", p.id, { kind: p.kind, question: p.question, options: p.options, capability: p.capability, rule: p.rule.kind, eligible: eligible.length, deadline: p.deadline });
    return structuredClone(rec);
  }

  /**
   * A vote arrives: its signature is verified off the actor's serial path (many at once), then the
   * actor applies it in order (`apply`, a message it sends itself naming the verified vote kept in
   * memory: a forged `apply` names nothing). The asker is answered when the vote is saved or refused.
   */
  #receive(vote: Vote, ctx: ActorContext): undefined {
    const port = this.#deps.port;
    this.#get(vote.body.proposal); // an unknown proposal is refused at once
    let reply: DeferredReply | undefined;
    try {
      reply = ctx.deferReply();
    } catch {
      reply = undefined; // a vote sent as a tell: nobody waits for the answer
    }
    const ref = randomUUID();
    void port.verifyVote(vote).then(
      (verified) => this.#verifiedVote(ref, { vote, verified, reply }),
      (error: unknown) => this.#verifiedVote(ref, { vote, verified: error instanceof Error ? error : new Error(String(error)), reply }),
    );
    return undefined;
  }

  #verifiedVote(ref: string, pending: PendingVote): void {
    this.#verified.set(ref, pending);
    try {
      this.#deps.port.tell(this.#self, { type: "tether.consensus.v1.apply", ref });
    } catch (error) {
      this.#verified.delete(ref);
      pending.reply?.reject(error);
    }
  }

  async #apply(pending: PendingVote, ctx: ActorContext): Promise<void> {
    const port = this.#deps.port;
    const { vote, reply } = pending;
    const rec = this.state.proposals[vote.body.proposal];
    if (rec === undefined) {
      reply?.reject(proposalError(`no proposal ${vote.body.proposal}`)); // dropped while the vote was verified
      return;
    }
    let voter = "?";
    try {
      if (pending.verified instanceof Error) throw pending.verified;
      voter = pending.verified.voter;
      const jti = pending.verified.jti;
      const now = port.clock.now();
      if (rec.status !== "open" || now > rec.proposal.deadline) throw refuse("late", `proposal ${rec.proposal.id} closed (deadline ${rec.proposal.deadline})`);
      if (!rec.eligible.includes(voter)) throw refuse("ineligible", `${voter} does not advertise ${rec.proposal.capability}`);
      if (rec.votes.some((v) => v.voter === voter)) throw refuse("duplicate", `${voter} voted already`);
      if (!rec.proposal.options.includes(vote.body.choice)) throw refuse("invalid-option", `${vote.body.choice} is not an option`);
      const declared = rec.proposal.weights[voter] ?? 1;
      await this.#takeTrustRead(rec.proposal.id);
      const trust = this.state.trust?.[rec.proposal.id]?.[voter] ?? (await port.trustOf([voter]))[voter] ?? 0;
      rec.votes.push({ voter, choice: vote.body.choice, jti, declared, trust, weight: declared * trust, at: Math.floor(now) });
      // group commit: the vote is answered when the checkpoint holding it is saved; votes applied
      // meanwhile (queued before the flush message) share one checkpoint
      this.#unsaved.push({ reply, proposal: rec.proposal.id, voter });
      if (rec.votes.length === rec.eligible.length) {
        await this.#finalize(rec);
        await this.#flush(ctx);
      } else this.#queueFlush();
    } catch (error) {
      const details = isTetherError(error) ? error.details : {};
      const reason = (typeof details["reason"] === "string" ? details["reason"] : "forged") as VoteRefusal;
      const detail = (error instanceof Error ? error.message : String(error)).slice(0, 512);
      if (rec.refused.length < MAX_REFUSED) rec.refused.push({ voter, reason, detail, at: Math.floor(port.clock.now()) });
      this.#dirty = true;
      this.#queueFlush();
      const record = this.#refusals.take(port.clock.now(), { source: "consensus", code: "ERR_CONSENSUS_VOTE_REFUSED", proposal: rec.proposal.id, voter, reason, at: port.clock.now() });
      if (record !== undefined) await port.record("violation", this.#self, record);
      reply?.reject(isTetherError(error) && error.code === "ERR_CONSENSUS_VOTE_REFUSED" ? error : refuse("forged", detail));
    }
  }

  /** Moves the trust scores read when the proposal opened into the state (once); a failed read leaves per-vote reads. */
  async #takeTrustRead(id: string): Promise<void> {
    const read = this.#trustReads.get(id);
    if (read === undefined) return;
    this.#trustReads.delete(id);
    try {
      (this.state.trust ??= {})[id] = await read;
    } catch {
      /* each vote reads its voter's score */
    }
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    try {
      this.#deps.port.tell(this.#self, { type: "tether.consensus.v1.flush" });
    } catch {
      this.#flushQueued = false; // the next vote or tick saves it
    }
  }

  /** Saves the state and answers the votes waiting for it (with their proposal as saved). */
  async #flush(ctx: ActorContext): Promise<void> {
    const waiting = this.#unsaved;
    if (waiting.length === 0 && !this.#dirty) return;
    this.#unsaved = [];
    this.#dirty = false;
    try {
      await ctx.checkpoint();
    } catch (error) {
      for (const w of waiting) w.reply?.reject(error);
      return;
    }
    for (const w of waiting) {
      const rec = this.state.proposals[w.proposal];
      const v = rec?.votes.find((x) => x.voter === w.voter);
      if (rec === undefined || v === undefined) {
        w.reply?.reject(proposalError(`no proposal ${w.proposal}`));
        continue;
      }
      // a receipt, not the whole record: a hundred answers of a hundred votes each would cost O(n²)
      const receipt: VoteReceipt = { type: "tether.consensus.v1.receipt", proposal: w.proposal, voter: v.voter, choice: v.choice, jti: v.jti, weight: v.weight, status: rec.status, counted: rec.votes.length, eligible: rec.eligible.length };
      if (rec.decision !== undefined) receipt.decision = rec.decision;
      if (rec.escalation !== undefined) receipt.escalation = rec.escalation;
      if (rec.ect !== undefined) receipt.ect = rec.ect;
      w.reply?.resolve(receipt);
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
    if (decided) return;
    rec.escalationEct = ect.jti;
    try {
      const approval = await port.openGate(this.#self, rec);
      if (approval !== undefined) {
        rec.approval = approval;
        await port.record("consensus.gate-opened", p.id, { approval, options: p.options, ect: ect.jti });
      }
    } catch (error) {
      // the escalation stands (ECT, ledger, hook); the gate can be opened by hand
      await port.record("consensus.gate-failed", p.id, { error: (error instanceof Error ? error.message : String(error)).slice(0, 512) });
    }
    await port.escalate(rec);
  }

  /** Looks at an escalated proposal's approval gate (see `settleFromGate`); whether the record changed. */
  #settle(rec: ProposalRecord): Promise<boolean> {
    return settleFromGate(this.#deps.port, this.#self, rec, MAX_PARENTS);
  }

  /** A signed resolve by a key the config's resolvers name: the truth is recorded and the voters' trust moves. */
  async #resolve(envelope: unknown, ctx: ActorContext): Promise<ProposalRecord> {
    const port = this.#deps.port;
    let proposal: string | undefined;
    try {
      const now = port.clock.now();
      const nonces = (this.state.nonces ??= {});
      for (const [k, exp] of Object.entries(nonces)) if (exp < now) delete nonces[k];
      const verified = await port.verifyResolve(envelope, this.#self, {
        checkAndRemember: (kid, nonce, expiresAt) => {
          const key = `${kid} ${nonce}`;
          if (nonces[key] !== undefined) return false;
          nonces[key] = expiresAt;
          return true;
        },
      });
      const body = ResolveBody.parse(verified.body);
      proposal = body.proposal;
      const { roles, owners } = this.#config.resolvers;
      if (!(roles as readonly string[]).includes(verified.role) || (owners !== undefined && !owners.includes(verified.owner))) {
        throw new TetherError("ERR_CONSENSUS_RESOLVE_REFUSED", `${verified.owner} (${verified.role}) may not resolve consensus proposals`, { details: { role: verified.role, owner: verified.owner } });
      }
      const rec = this.#get(body.proposal);
      if (rec.status !== "decided" && rec.status !== "escalated" && rec.status !== "rejected") throw proposalError(`proposal ${rec.proposal.id} is ${rec.status}: it can be resolved once, after it was tallied`);
      if (!rec.proposal.options.includes(body.truth)) throw proposalError(`${body.truth} is not an option of proposal ${rec.proposal.id}`);
      rec.status = "resolved";
      rec.truth = body.truth;
      rec.resolvedBy = `${verified.role}:${verified.owner}`.slice(0, 160);
      delete this.state.trust?.[rec.proposal.id];
      await ctx.checkpoint();
      for (const v of rec.votes) await port.reportTrust(this.#self, v.voter, v.choice === body.truth, v.jti);
      await port.record("consensus.resolved", rec.proposal.id, { truth: body.truth, decision: rec.decision ?? null, voters: rec.votes.length, by: verified.owner, role: verified.role, kid: verified.kid });
      return structuredClone(rec);
    } catch (error) {
      await ctx.checkpoint().catch(() => undefined); // the nonce is remembered also for a refused resolve
      if (isTetherError(error) && error.code === "ERR_CONSENSUS_PROPOSAL") throw error;
      const cause = isTetherError(error) ? error.code : "ERR_CONTROL_MALFORMED";
      const detail = (error instanceof Error ? error.message : String(error)).slice(0, 512);
      const record = this.#refusals.take(port.clock.now(), { source: "consensus", code: "ERR_CONSENSUS_RESOLVE_REFUSED", cause, detail, ...(proposal === undefined ? {} : { proposal }), at: port.clock.now() });
      if (record !== undefined) await port.record("violation", this.#self, record);
      if (isTetherError(error) && error.code === "ERR_CONSENSUS_RESOLVE_REFUSED") throw error;
      throw new TetherError("ERR_CONSENSUS_RESOLVE_REFUSED", `resolve refused: ${detail}`, { details: { cause }, cause: error });
    }
  }
}
