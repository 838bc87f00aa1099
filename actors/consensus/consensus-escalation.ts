import { TETHER_EXT_PREFIX, type ProposalRecord } from "../../protocols/index.ts";
import type { ConsensusPort } from "./consensus-port.ts";

/**
 * Looks at an escalated proposal's approval gate: an approval with a choice decides the proposal (an
 * ECT whose parents are the votes, the escalation and the human decision), a rejection closes it
 * without a decision. Returns whether the record changed.
 */
export const settleFromGate = async (port: ConsensusPort, self: string, rec: ProposalRecord, maxParents: number): Promise<boolean> => {
  const p = rec.proposal;
  let outcome;
  try {
    outcome = await port.gateDecision(rec.approval ?? "");
  } catch {
    return false; // the approvals actor is away or its answer did not verify: the next tick looks again
  }
  if (outcome === undefined) return false;
  const decided = outcome.decision === "approve" && outcome.choice !== undefined && p.options.includes(outcome.choice);
  const par = [...rec.votes.slice(0, maxParents - 2).map((v) => v.jti), ...(rec.escalationEct === undefined ? [] : [rec.escalationEct]), ...(outcome.ect === undefined ? [] : [outcome.ect])];
  const ect = await port.mint({
    actorId: self,
    act: decided ? "consensus.decide" : "consensus.reject",
    par,
    wid: undefined,
    input: { proposal: p.id, question: p.question, rule: p.rule, tally: rec.tally, approval: rec.approval },
    output: decided ? { decision: outcome.choice } : { rejected: true },
    ext: { [`${TETHER_EXT_PREFIX}proposal`]: p.id, [`${TETHER_EXT_PREFIX}approval`]: rec.approval },
  });
  rec.ect = ect.jti;
  rec.decidedBy = { kind: "approval", by: outcome.by, role: outcome.role, ...(outcome.ect === undefined ? {} : { ect: outcome.ect }) };
  if (decided) {
    rec.status = "decided";
    rec.decision = outcome.choice;
  } else rec.status = "rejected";
  await port.record(decided ? "consensus.decided" : "consensus.rejected", p.id, {
    ...(decided ? { decision: outcome.choice } : {}),
    by: outcome.by,
    role: outcome.role,
    approval: rec.approval,
    approvalEct: outcome.ect ?? null,
    votes: rec.votes.length,
    ect: ect.jti,
  });
  return true;
};


/**
 * Drops the oldest closed proposal from the state: resolved or rejected first, then decided or
 * escalated without a pending gate (its ECTs and ledger events stay). False when none may go.
 */
export const evictOldestClosed = (state: { proposals: Record<string, ProposalRecord>; trust?: Record<string, unknown> }): boolean => {
  const all = Object.values(state.proposals);
  const pick = (ok: (r: ProposalRecord) => boolean) => all.filter(ok).sort((a, b) => a.proposal.deadline - b.proposal.deadline)[0];
  const victim = pick((r) => r.status === "resolved" || r.status === "rejected") ?? pick((r) => r.status === "decided" || (r.status === "escalated" && r.approval === undefined));
  if (victim === undefined) return false;
  delete state.proposals[victim.proposal.id];
  delete state.trust?.[victim.proposal.id];
  return true;
};
