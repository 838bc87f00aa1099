import { runCore, type CoreOptions } from "./core.ts";
import { comparedWith, progress, type ComparedMetric } from "./report.ts";
import { median } from "./stats.ts";

const comparedToPlain = comparedWith("plain");

/** The metrics `core --accounts` compares: Tether on an accounts server with node credentials against Tether on an open server. */
const ACCOUNT_METRICS: ReadonlyArray<{ metric: string; target?: { op: ">=" | "<="; value: number } }> = [
  { metric: "tell_throughput", target: { op: ">=", value: 0.95 } },
  { metric: "tell_flow_throughput" },
  { metric: "tell_cpu_per_msg" },
  { metric: "tell_server_cpu_per_msg" },
  { metric: "ask_p50_1" },
  { metric: "ask_throughput_1" },
  { metric: "ask_throughput_32", target: { op: ">=", value: 0.95 } },
  { metric: "ask_server_cpu_per_req_32" },
];

/**
 * `core --accounts`: the core suite on an open server and on one whose network is a NATS account
 * (every connection authenticated, every publish and subscription checked against the identity's
 * permissions), one round each, alternating, `rounds` times. Returns the plain suite's metrics
 * (medians) and the accounts/plain ratios of Tether's figures.
 */
export const runCoreWithAccounts = async (options: CoreOptions): Promise<{ plain: ComparedMetric[]; accounts: ComparedMetric<"plain">[] }> => {
  const plainRuns: ComparedMetric[][] = [];
  const accountRuns: ComparedMetric[][] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? [false, true] : [true, false];
    for (const accounts of order) {
      progress(`core --accounts: round ${round}, ${accounts ? "accounts + credentials" : "plain"}`);
      (accounts ? accountRuns : plainRuns).push(await runCore({ ...options, rounds: 1, accounts }));
    }
  }
  const pick = (runs: ComparedMetric[][], metric: string, side: "tether" | "raw") => median(runs.map((r) => r.find((m) => m.metric === metric)?.[side] ?? Number.NaN));
  const plain = (plainRuns[0] ?? []).map((m) => ({ ...m, tether: pick(plainRuns, m.metric, "tether"), raw: pick(plainRuns, m.metric, "raw"), ratio: Math.round((pick(plainRuns, m.metric, "tether") / pick(plainRuns, m.metric, "raw")) * 1000) / 1000 }));
  const accounts = ACCOUNT_METRICS.map(({ metric, target }) => {
    const unit = plainRuns[0]?.find((m) => m.metric === metric)?.unit ?? "";
    return comparedToPlain("core-accounts", metric, unit, pick(accountRuns, metric, "tether"), pick(plainRuns, metric, "tether"), target);
  });
  return { plain, accounts };
};
