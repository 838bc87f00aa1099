import type { ProposalList, ProposalRecord, ProposalStatus, ProposalSummary } from "../../protocols/index.ts";

/** A proposal without its votes: what `tether consensus ls` prints a line of. */
export const summarise = (r: ProposalRecord): ProposalSummary => {
  const p = r.proposal;
  const s: ProposalSummary = { id: p.id, kind: p.kind, question: p.question, status: r.status, options: [...p.options], rule: { ...p.rule }, deadline: p.deadline, eligible: r.eligible.length, votes: r.votes.length, refused: r.refused.length };
  if (r.decision !== undefined) s.decision = r.decision;
  if (r.escalation !== undefined) s.escalation = r.escalation;
  if (r.approval !== undefined) s.approval = r.approval;
  if (r.truth !== undefined) s.truth = r.truth;
  return s;
};

/** The read-only answer to `tether.consensus.v1.list`: the proposals held (optionally one status), by deadline then id. */
export const listProposals = (proposals: Readonly<Record<string, ProposalRecord>>, status: ProposalStatus | undefined): ProposalList => ({
  type: "tether.consensus.v1.list-result",
  proposals: Object.values(proposals)
    .filter((r) => status === undefined || r.status === status)
    .sort((a, b) => a.proposal.deadline - b.proposal.deadline || (a.proposal.id < b.proposal.id ? -1 : a.proposal.id > b.proposal.id ? 1 : 0))
    .map(summarise),
});
