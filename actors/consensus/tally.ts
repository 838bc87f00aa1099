import type { AcceptedVote, ConsensusRule } from "../../protocols/index.ts";

export type TallyResult =
  | { readonly kind: "decided"; readonly decision: string; readonly tally: Record<string, number> }
  | { readonly kind: "escalate"; readonly reason: string; readonly tally: Record<string, number> };

/** Weights closer than this count as equal (a tie). */
const EPSILON = 1e-9;

/**
 * Tallies trust-weighted votes under a rule. Escalates when fewer than `quorum` valid votes were cast,
 * when the cast weight is zero, when the two leading options tie, or when no option meets the rule:
 * majority (more than half of the cast weight), supermajority (at least `threshold` of it), unanimity
 * (every eligible voter voted, all for one option).
 */
export const tally = (votes: readonly AcceptedVote[], options: readonly string[], rule: ConsensusRule, eligible: number, quorum: number): TallyResult => {
  const sums: Record<string, number> = Object.fromEntries(options.map((o) => [o, 0]));
  for (const v of votes) sums[v.choice] = (sums[v.choice] ?? 0) + v.weight;
  if (votes.length < quorum) return { kind: "escalate", reason: `no quorum (${votes.length} of ${quorum} votes)`, tally: sums };
  const total = Object.values(sums).reduce((a, b) => a + b, 0);
  if (total <= EPSILON) return { kind: "escalate", reason: "the votes cast carry no weight", tally: sums };
  const ranked = Object.entries(sums).sort((a, b) => b[1] - a[1]);
  const [top, second] = [ranked[0] as [string, number], ranked[1]];
  if (second !== undefined && Math.abs(top[1] - second[1]) <= EPSILON) return { kind: "escalate", reason: `tie between ${top[0]} and ${second[0]}`, tally: sums };
  const share = top[1] / total;
  switch (rule.kind) {
    case "majority":
      return share > 0.5 + EPSILON ? { kind: "decided", decision: top[0], tally: sums } : { kind: "escalate", reason: `no majority (${top[0]} has ${pct(share)})`, tally: sums };
    case "supermajority":
      return share >= rule.threshold - EPSILON
        ? { kind: "decided", decision: top[0], tally: sums }
        : { kind: "escalate", reason: `no supermajority of ${pct(rule.threshold)} (${top[0]} has ${pct(share)})`, tally: sums };
    case "unanimity": {
      const one = votes.every((v) => v.choice === top[0]);
      return one && votes.length === eligible ? { kind: "decided", decision: top[0], tally: sums } : { kind: "escalate", reason: "not unanimous", tally: sums };
    }
  }
};

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
