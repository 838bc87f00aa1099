import { describe, expect, it } from "vitest";
import { runScript } from "../support/run-script.ts";

describe("npm run demo:router", () => {
  it("decides by trust-weighted vote, escalates the tie to a signed human choice, moves the wrong agents' trust down, and verifies the ledger", async () => {
    const { code, out, err } = await runScript("examples/router-demo.ts");
    expect({ code, err }, `the demo printed:\n${out.slice(-3000)}`).toEqual({ code: 0, err: "" });
    // policy: the out-of-bounds proposal is refused before anyone votes
    expect(out).toMatch(/100% of the traffic → ERR_CONSENSUS_POLICY_VIOLATION: .*trafficShare=1 is outside \[0, 0\.5\]/);
    // question 1: three different answers, the trusted monitor's weight decides
    expect(out).toMatch(/diagnosis\s+votes down/);
    expect(out).toMatch(/monitor\s+votes up/);
    expect(out).toMatch(/optimiser\s+votes reroute/);
    expect(out).toMatch(/tally: down 0\.200, up 0\.917, reroute 0\.500/);
    expect(out).toMatch(/DECISION \(vote\): up: .* with 3 vote ECTs as parents/);
    // question 2: a tie, escalated to the approval gate, decided by nadia's signed choice
    expect(out).toMatch(/tally: reroute 0\.500, hold 0\.500/);
    expect(out).toMatch(/ESCALATED: tie between reroute and hold; approval gate \S+ opened/);
    expect(out).toMatch(/APPROVAL by nadia \(approver, signed with \S+\): chooses hold/);
    expect(out).toMatch(/DECISION \(approval\): hold, decided by nadia; decision ECT \S+ parented to the 2 votes, the escalation and the approval/);
    // the truth moves trust: the agents that were wrong lose it, with the consensus actor's evidence
    expect(out).toMatch(/diagnosis\s+0\.200 → 0\.\d+\s+LOST\n\s+evidence: vote-disagreed/);
    expect(out).toMatch(/optimiser\s+0\.500 → 0\.\d+\s+LOST\n(\s+evidence: vote-disagreed.*\n){2}/);
    expect(out).toMatch(/monitor\s+0\.917 → 0\.\d+\s+gained\n\s+evidence: vote-agreed/);
    expect(out).toMatch(/planner\s+0\.500 → 0\.\d+\s+gained\n\s+evidence: vote-agreed/);
    expect(out).toMatch(/consensus\.resolved\s+r7-state truth up/);
    expect(out).toMatch(/approval\.granted\s+consensus decision approve choice hold by nadia/);
    expect(out).toMatch(/Ledger verification: OK/);
    expect(out).toMatch(/Done\.$/m);
  }, 120_000);
});
