import { z } from "zod";

const AgentId = z.string().min(1).max(128);
const Option = z.string().min(1).max(128);

/** How a proposal is decided, over the trust-weighted votes cast. */
export const ConsensusRule = z.discriminatedUnion("kind", [
  /** An option with more than half of the cast weight. */
  z.strictObject({ kind: z.literal("majority") }),
  /** An option with at least `threshold` of the cast weight (0.5 < threshold ≤ 1). */
  z.strictObject({ kind: z.literal("supermajority"), threshold: z.number().gt(0.5).max(1) }),
  /** Every eligible voter voted, all for the same option. */
  z.strictObject({ kind: z.literal("unanimity") }),
]);
export type ConsensusRule = z.infer<typeof ConsensusRule>;

/** `rejected`: escalated, and the human at the approval gate rejected every option (no decision). */
export const ProposalStatus = z.enum(["open", "decided", "escalated", "rejected", "resolved"]);
export type ProposalStatus = z.infer<typeof ProposalStatus>;

const ParamName = z.string().min(1).max(64);
/** A proposal parameter: what the decision would set (a share of traffic, a target), checked against policy bounds. */
export const ProposalParam = z.union([z.number().finite(), z.string().max(256), z.boolean()]);
export type ProposalParam = z.infer<typeof ProposalParam>;

export const Proposal = z.strictObject({
  type: z.literal("tether.consensus.v1.propose"),
  id: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/),
  /** The question's kind: which of the actor's policies applies (see `ConsensusPolicy`). */
  kind: z.string().regex(/^[0-9A-Za-z_.-]{1,64}$/).default("general"),
  question: z.string().min(1).max(1024),
  /** What the decision would do, for the policy's parameter bounds. */
  params: z.record(ParamName, ProposalParam).default({}),
  options: z.array(Option).min(2).max(16),
  /** Eligible voters: the agents advertising this capability when the proposal opens. */
  capability: z.string().min(1).max(128),
  rule: ConsensusRule,
  /** Epoch ms (the consensus actor's clock) after which votes are late and the proposal is tallied. */
  deadline: z.int(),
  /** Valid votes needed to decide; default a majority of the eligible voters. */
  quorum: z.int().min(1).max(1_000).optional(),
  /** Declared weight per voter (default 1); the effective weight is declared × trust score. */
  weights: z.record(AgentId, z.number().positive().max(1_000)).default({}),
});
export type Proposal = z.infer<typeof Proposal>;
export type ProposalInput = z.input<typeof Proposal>;

/** What a voter signs: the vote token's `inp_hash` is the hash of exactly this object. */
export const VoteBody = z.strictObject({ type: z.literal("tether.consensus.v1.vote-body"), proposal: Proposal.shape.id, choice: Option });
export type VoteBody = z.infer<typeof VoteBody>;

/** A vote as sent: the body plus the voter's ECT over it, signed with the voter's own `agent` key. */
export const Vote = z.strictObject({ type: z.literal("tether.consensus.v1.vote"), body: VoteBody, token: z.string().min(1).max(16 * 1024) });
export type Vote = z.infer<typeof Vote>;

/**
 * Once the truth is known: voters who chose it gain trust (`vote-agreed`), the others lose it. The body
 * is signed as a control message (operation `approve`, target the consensus actor) by a key whose role
 * (and owner) the actor's `resolvers` name.
 */
export const ResolveBody = z.strictObject({ type: z.literal("tether.consensus.v1.resolve-body"), proposal: Proposal.shape.id, truth: Option });
export type ResolveBody = z.infer<typeof ResolveBody>;
const Envelope = z.strictObject({ type: z.literal("tether.control.v1.signed"), token: z.string().min(1).max(16_384) });
export const Resolve = z.strictObject({ type: z.literal("tether.consensus.v1.resolve"), envelope: Envelope });
/** Asks the actor to look at an escalated proposal's approval now (it also looks on every tick). */
export const ConsensusSettle = z.strictObject({ type: z.literal("tether.consensus.v1.settle"), proposal: Proposal.shape.id });
export const ProposalQuery = z.strictObject({ type: z.literal("tether.consensus.v1.get"), proposal: Proposal.shape.id });
/** Lists the proposals the actor holds (read-only), optionally only those with one status: answered with a `ProposalList`. */
export const ProposalListQuery = z.strictObject({ type: z.literal("tether.consensus.v1.list"), status: ProposalStatus.optional() });
export const ConsensusTick = z.strictObject({ type: z.literal("tether.consensus.v1.tick") });
/** The actor's own: saves the votes accepted since the last checkpoint and answers them. */
export const ConsensusFlush = z.strictObject({ type: z.literal("tether.consensus.v1.flush") });
/** The actor's own: applies a vote whose signature it verified (kept in its memory under `ref`). */
export const ConsensusApply = z.strictObject({ type: z.literal("tether.consensus.v1.apply"), ref: z.uuid() });

export const ConsensusMessage = z.discriminatedUnion("type", [Proposal, Vote, Resolve, ProposalQuery, ProposalListQuery, ConsensusTick, ConsensusFlush, ConsensusApply, ConsensusSettle]);
export type ConsensusMessage = z.infer<typeof ConsensusMessage>;

export const VoteRefusal = z.enum(["forged", "duplicate", "late", "ineligible", "invalid-option"]);
export type VoteRefusal = z.infer<typeof VoteRefusal>;

export const AcceptedVote = z.strictObject({ voter: AgentId, choice: Option, jti: z.string().max(256), declared: z.number(), trust: z.number(), weight: z.number(), at: z.int() });
export type AcceptedVote = z.infer<typeof AcceptedVote>;

export const RefusedVote = z.strictObject({ voter: z.string().max(160), reason: VoteRefusal, detail: z.string().max(512), at: z.int() });
export type RefusedVote = z.infer<typeof RefusedVote>;


/** A proposal's record: votes accepted and refused, the tally and the outcome. */
export const ProposalRecord = z.strictObject({
  proposal: Proposal,
  status: ProposalStatus,
  eligible: z.array(AgentId).max(1_000),
  votes: z.array(AcceptedVote).max(1_000),
  refused: z.array(RefusedVote).max(1_000),
  /** Cast weight per option. */
  tally: z.record(Option, z.number()),
  decision: Option.optional(),
  /** Why it escalated: no quorum, a tie, no option reached the rule. */
  escalation: z.string().max(256).optional(),
  /** The decision (or escalation) ECT; its parents are the accepted votes. */
  ect: z.string().max(256).optional(),
  /** The escalation's ECT, kept when a human decision follows it. */
  escalationEct: z.string().max(256).optional(),
  /** The approval gate an escalation opened (approvals actor), and who decided there. */
  approval: z.string().max(128).optional(),
  decidedBy: z.strictObject({ kind: z.enum(["vote", "approval"]), by: z.string().max(160).optional(), role: z.string().max(32).optional(), ect: z.string().max(256).optional() }).optional(),
  truth: Option.optional(),
  /** Who reported the truth (the signer of the resolve: owner and role). */
  resolvedBy: z.string().max(160).optional(),
});
export type ProposalRecord = z.infer<typeof ProposalRecord>;

/** What a voter is answered once its vote is counted and saved: its vote, and the proposal's status then. */
export const VoteReceipt = z.strictObject({
  type: z.literal("tether.consensus.v1.receipt"),
  proposal: Proposal.shape.id,
  voter: AgentId,
  choice: Option,
  jti: z.string().max(256),
  weight: z.number(),
  status: ProposalStatus,
  /** Votes counted so far (of `eligible`). */
  counted: z.int().min(0),
  eligible: z.int().min(0),
  decision: Option.optional(),
  escalation: z.string().max(256).optional(),
  ect: z.string().max(256).optional(),
});
export type VoteReceipt = z.infer<typeof VoteReceipt>;

/** One line of `ProposalList`: a proposal without its votes (`get` gives the whole record). */
export const ProposalSummary = z.strictObject({
  id: Proposal.shape.id,
  kind: z.string().max(64),
  question: z.string().max(1024),
  status: ProposalStatus,
  options: z.array(Option).max(16),
  rule: ConsensusRule,
  deadline: z.int(),
  /** Eligible voters, votes accepted and votes refused (counts). */
  eligible: z.int().min(0),
  votes: z.int().min(0),
  refused: z.int().min(0),
  decision: Option.optional(),
  escalation: z.string().max(256).optional(),
  approval: z.string().max(128).optional(),
  truth: Option.optional(),
});
export type ProposalSummary = z.infer<typeof ProposalSummary>;

/** The answer to `tether.consensus.v1.list`: summaries ordered by deadline (then id). */
export const ProposalList = z.strictObject({ type: z.literal("tether.consensus.v1.list-result"), proposals: z.array(ProposalSummary).max(1_000) });
export type ProposalList = z.infer<typeof ProposalList>;
