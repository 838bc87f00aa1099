import { describe, expect, it } from "vitest";
import { ConsensusConfig, checkProposal } from "../../../actors/index.ts";
import { Proposal } from "../../../protocols/index.ts";

const now = 1_000_000;
const proposal = (over: Record<string, unknown> = {}) =>
  Proposal.parse({ type: "tether.consensus.v1.propose", id: "p", kind: "reroute", question: "q", options: ["reroute", "hold"], capability: "netops", rule: { kind: "majority" }, deadline: now + 60_000, params: { share: 0.3 }, ...over });

describe("consensus policy", () => {
  const config = ConsensusConfig.parse({
    policies: [
      { kind: "reroute", options: ["reroute", "hold"], rules: ["majority", "supermajority"], minThreshold: 0.6, deadlineMs: { max: 120_000 }, params: { share: { required: true, min: 0, max: 0.5 } } },
      { kind: "*", rules: ["unanimity"] },
    ],
  });

  it("passes a proposal inside every bound", () => {
    expect(checkProposal(config, proposal(), now)).toEqual([]);
  });

  it("names each broken constraint", () => {
    const b = checkProposal(config, proposal({ options: ["reroute", "drop"], rule: { kind: "supermajority", threshold: 0.55 }, deadline: now + 200_000, params: { share: 0.7 } }), now);
    expect(b.map((x) => x.constraint).sort()).toEqual(["deadline", "options", "params.share", "threshold"]);
    expect(checkProposal(config, proposal({ params: {} }), now).map((x) => x.constraint)).toEqual(["params.share"]);
    expect(checkProposal(config, proposal({ params: { share: "half" } }), now).map((x) => x.detail)).toEqual(["share must be a number"]);
  });

  it("applies the * policy to other kinds, and refuses unknown kinds when no * policy exists", () => {
    expect(checkProposal(config, proposal({ kind: "restart", params: {} }), now).map((x) => x.constraint)).toEqual(["rule"]);
    const strict = ConsensusConfig.parse({ policies: [{ kind: "reroute" }] });
    expect(checkProposal(strict, proposal({ kind: "restart" }), now).map((x) => x.constraint)).toEqual(["kind"]);
    expect(checkProposal(ConsensusConfig.parse({ policies: [{ kind: "reroute" }], unknownKinds: "allow" }), proposal({ kind: "restart" }), now)).toEqual([]);
    // no policies at all: nothing is constrained
    expect(checkProposal(ConsensusConfig.parse({}), proposal({ kind: "anything" }), now)).toEqual([]);
  });
});
