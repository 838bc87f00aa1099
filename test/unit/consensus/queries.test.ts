import { describe, expect, it } from "vitest";
import { listProposals } from "../../../actors/index.ts";
import { proposalText } from "../../../cli/index.ts";
import { Proposal, ProposalList, type ProposalRecord } from "../../../protocols/index.ts";

const record = (id: string, deadline: number, extra: Partial<ProposalRecord> = {}): ProposalRecord => ({
  proposal: Proposal.parse({ type: "tether.consensus.v1.propose", id, question: `q ${id}?`, options: ["yes", "no"], capability: "netops", rule: { kind: "majority" }, deadline }),
  status: "open",
  eligible: ["a", "b"],
  votes: [],
  refused: [],
  tally: {},
  ...extra,
});

const vote = (voter: string, choice: string) => ({ voter, choice, jti: `j-${voter}`, declared: 1, trust: 0.5, weight: 0.5, at: 0 });

describe("listProposals", () => {
  const proposals = {
    late: record("late", 300),
    tie: record("tie", 200, { status: "escalated", votes: [vote("a", "yes"), vote("b", "no")], tally: { yes: 0.5, no: 0.5 }, escalation: "tie", approval: "gate-1" }),
    done: record("done", 100, { status: "resolved", votes: [vote("a", "yes")], refused: [{ voter: "x", reason: "ineligible", detail: "d", at: 0 }], decision: "yes", truth: "no", resolvedBy: "approver:ada" }),
  };

  it("answers summaries by deadline, without the votes, that the wire schema accepts", () => {
    const list = ProposalList.parse(listProposals(proposals, undefined));
    expect(list.proposals.map((p) => p.id)).toEqual(["done", "tie", "late"]);
    expect(list.proposals[0]).toEqual({ id: "done", kind: "general", question: "q done?", status: "resolved", options: ["yes", "no"], rule: { kind: "majority" }, deadline: 100, eligible: 2, votes: 1, refused: 1, decision: "yes", truth: "no" });
    expect(list.proposals[1]).toMatchObject({ id: "tie", escalation: "tie", approval: "gate-1", votes: 2 });
  });

  it("keeps only the proposals with the status asked for, and copies rather than shares the state", () => {
    const list = listProposals(proposals, "escalated");
    expect(list.proposals.map((p) => p.id)).toEqual(["tie"]);
    list.proposals[0]?.options.push("maybe");
    expect(proposals.tie.proposal.options).toEqual(["yes", "no"]);
    expect(listProposals(proposals, "decided").proposals).toEqual([]);
  });
});

describe("proposalText (tether consensus show)", () => {
  it("names an escalation's approval gate and how to decide it", () => {
    const text = proposalText(record("tie", 200, { status: "escalated", votes: [vote("a", "yes"), vote("b", "no")], tally: { yes: 0.5, no: 0.5 }, escalation: "tie", approval: "gate-1" }));
    expect(text).toContain("escalation tie  approval gate-1 (tether approve gate-1 --choice <option>)");
    expect(text).toContain("decision   -\n");
    expect(text).toMatch(/vote +b +no +weight 0\.500 = 1 × trust 0\.500 +jti j-b/);
  });

  it("says who decided at the gate and who reported the truth", () => {
    const text = proposalText(record("p", 1, { status: "resolved", decision: "no", decidedBy: { kind: "approval", by: "ada", role: "approver" }, truth: "yes", resolvedBy: "owner:olivia" }));
    expect(text).toContain("decision   no  (by approval, approver:ada)");
    expect(text).toContain("truth      yes  resolved by owner:olivia");
  });
});
