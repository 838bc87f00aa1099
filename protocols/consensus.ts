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

export const Proposal = z.strictObject({
  type: z.literal("tether.consensus.v1.propose"),
  id: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/),
  question: z.string().min(1).max(1024),
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

/** Once the truth is known: voters who chose it gain trust (`vote-agreed`), the others lose it. */
export const Resolve = z.strictObject({ type: z.literal("tether.consensus.v1.resolve"), proposal: Proposal.shape.id, truth: Option });
export const ProposalQuery = z.strictObject({ type: z.literal("tether.consensus.v1.get"), proposal: Proposal.shape.id });
export const ConsensusTick = z.strictObject({ type: z.literal("tether.consensus.v1.tick") });

export const ConsensusMessage = z.discriminatedUnion("type", [Proposal, Vote, Resolve, ProposalQuery, ConsensusTick]);
export type ConsensusMessage = z.infer<typeof ConsensusMessage>;

export const VoteRefusal = z.enum(["forged", "duplicate", "late", "ineligible", "invalid-option"]);
export type VoteRefusal = z.infer<typeof VoteRefusal>;

export const AcceptedVote = z.strictObject({ voter: AgentId, choice: Option, jti: z.string().max(256), declared: z.number(), trust: z.number(), weight: z.number(), at: z.int() });
export type AcceptedVote = z.infer<typeof AcceptedVote>;

export const RefusedVote = z.strictObject({ voter: z.string().max(160), reason: VoteRefusal, detail: z.string().max(512), at: z.int() });
export type RefusedVote = z.infer<typeof RefusedVote>;

export const ProposalStatus = z.enum(["open", "decided", "escalated", "resolved"]);

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
  truth: Option.optional(),
});
export type ProposalRecord = z.infer<typeof ProposalRecord>;
