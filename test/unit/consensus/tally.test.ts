import { describe, expect, it } from "vitest";
import { tally } from "../../../actors/index.ts";
import type { AcceptedVote } from "../../../protocols/index.ts";

const v = (voter: string, choice: string, weight = 1): AcceptedVote => ({ voter, choice, jti: `j-${voter}`, declared: 1, trust: weight, weight, at: 0 });
const options = ["down", "up"];

describe("tally", () => {
  it("decides by weighted majority, where trust outweighs head count", () => {
    const votes = [v("diagnosis", "down", 0.2), v("monitor", "up", 0.9), v("optimiser", "down", 0.3)];
    expect(tally(votes, options, { kind: "majority" }, 3, 2)).toMatchObject({ kind: "decided", decision: "up" });
    expect(tally(votes, options, { kind: "majority" }, 3, 2).tally).toEqual({ down: 0.5, up: 0.9 });
  });

  it("escalates a tie", () => {
    const r = tally([v("a", "down"), v("b", "up")], options, { kind: "majority" }, 2, 2);
    expect(r).toMatchObject({ kind: "escalate" });
    expect(r.kind === "escalate" && r.reason).toMatch(/^tie/);
  });

  it("escalates without quorum, whatever the votes say", () => {
    const r = tally([v("a", "down", 5)], options, { kind: "majority" }, 5, 3);
    expect(r.kind === "escalate" && r.reason).toMatch(/no quorum/);
  });

  it("escalates when no option has a majority of three", () => {
    const r = tally([v("a", "x"), v("b", "y"), v("c", "z", 1.5)], ["x", "y", "z"], { kind: "majority" }, 3, 2);
    expect(r.kind === "escalate" && r.reason).toMatch(/no majority/);
  });

  it("applies a supermajority threshold", () => {
    const votes = [v("a", "down", 2), v("b", "down", 1), v("c", "up", 1)]; // 75 %
    expect(tally(votes, options, { kind: "supermajority", threshold: 0.75 }, 3, 2)).toMatchObject({ kind: "decided", decision: "down" });
    expect(tally(votes, options, { kind: "supermajority", threshold: 0.8 }, 3, 2)).toMatchObject({ kind: "escalate" });
  });

  it("requires every eligible voter, all agreeing, for unanimity", () => {
    const all = [v("a", "up"), v("b", "up"), v("c", "up")];
    expect(tally(all, options, { kind: "unanimity" }, 3, 1)).toMatchObject({ kind: "decided", decision: "up" });
    expect(tally(all.slice(0, 2), options, { kind: "unanimity" }, 3, 1)).toMatchObject({ kind: "escalate" });
    expect(tally([...all.slice(0, 2), v("c", "down", 0.01)], options, { kind: "unanimity" }, 3, 1)).toMatchObject({ kind: "escalate" });
  });

  it("escalates when every vote carries zero weight (all voters distrusted)", () => {
    expect(tally([v("a", "up", 0), v("b", "down", 0)], options, { kind: "majority" }, 2, 2)).toMatchObject({ kind: "escalate" });
  });
});
