import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { Actor, TrustClient } from "../actors/index.ts";
import { NatsServer, Node, silentLogger, type ActorContext, type NodeOptionsInput } from "../runtime/index.ts";
import { valued, type ValueMetric } from "./report.ts";
import { median } from "./stats.ts";

export interface TrustBenchOptions {
  /** Actions whose ECTs the trust actor reads per round. */
  readonly actions: number;
  readonly rounds: number;
  /** Agents acting at once. */
  readonly agents: number;
  /** Explicit signed reports per round (0: skip that measure). */
  readonly reports: number;
}

const log = (line: string) => process.stderr.write(`[bench] trust: ${line}\n`);

const Act = z.strictObject({ type: z.literal("act"), fail: z.boolean() });
type Act = z.infer<typeof Act>;

/** One `ctx.act` per message (a failure now and then), so each message leaves one action ECT. */
class Acting extends Actor<Act> {
  static override readonly protocol = Act;
  async handle(msg: Act, ctx: ActorContext) {
    return ctx.act("step", { n: 1 }, () => {
      if (msg.fail) throw new Error("failed step");
      return 1;
    }).catch(() => 0);
  }
}

/** Runs `total` actions spread over the agents (each agent one at a time); resolves with actions per second. */
const actions = async (node: Node, prefix: string, agents: number, total: number): Promise<number> => {
  const refs = [];
  for (let i = 0; i < agents; i++) refs.push(await node.spawn(`${prefix}-${i}`, Acting));
  let next = 0;
  const start = performance.now();
  await Promise.all(
    refs.map(async (ref) => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        await ref.ask({ type: "act", fail: i % 7 === 0 });
      }
    }),
  );
  const rate = total / ((performance.now() - start) / 1000);
  for (let i = 0; i < agents; i++) await node.stopActor(`${prefix}-${i}`);
  return rate;
};

/**
 * Trust update throughput from the ECT stream: per round, `agents` agents on one node run `actions`
 * actions (standard profile: each a signed ECT in the DAG store), then the trust actor on another node
 * reads them from the stream, verifies each signature against the key registry, counts each outcome
 * and checkpoints once per batch of 5,000. `trust_update_rate` is outcomes counted per second of
 * ingest (median of the rounds). For comparison, `relaxed_action_rate` is the rate at which the same
 * agents act under the relaxed profile (the goal: the trust actor keeps up with it), measured on its
 * own network of the same server in the same run (`trust_update_vs_relaxed`: the median over rounds of
 * the ratio within a round), and `trust_report_rate` the explicit signed reports
 * per second (each verified, asserted by an ECT and checkpointed).
 */
export const runTrust = async (options: TrustBenchOptions): Promise<{ metrics: ValueMetric[] }> => {
  const keyDir = mkdtempSync(join(tmpdir(), "tether-bench-trust-"));
  const server = await NatsServer.start({ name: "bench-trust" });
  const standard = (nodeId: string): NodeOptionsInput => ({ servers: [server.url], nodeId, assurance: { profile: "standard", keyDir } });
  const host = await Node.create(standard("trust-host"), { logger: silentLogger });
  const actorsNode = await Node.create(standard("agents"), { logger: silentLogger });
  const relaxed = await Node.create({ servers: [server.url], nodeId: "relaxed-agents", network: "relaxed" }, { logger: silentLogger });
  try {
    const trust = await new TrustClient({ limits: { seen: 1_000_000, agents: 1_000 }, ingest: { limit: 5_000 } }).attach(host).start();
    // warm-up (JIT, streams, key lookups), not measured
    await actions(relaxed, "warm", options.agents, 500);
    await actions(actorsNode, "warm", options.agents, 500);
    await trust.ingestAll(5_000);
    const ingestRates: number[] = [];
    const relaxedRates: number[] = [];
    const standardRates: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      relaxedRates.push(await actions(relaxed, `r${round}`, options.agents, options.actions));
      standardRates.push(await actions(actorsNode, `s${round}`, options.agents, options.actions));
      const start = performance.now();
      const result = await trust.ingestAll(5_000);
      const rate = result.counted / ((performance.now() - start) / 1000);
      ingestRates.push(rate);
      log(`round ${round + 1}: ingest ${result.counted} outcomes (${result.read} records, ${result.rejected} refused) at ${rate.toFixed(0)}/s; relaxed actions ${relaxedRates.at(-1)?.toFixed(0)}/s, standard actions ${standardRates.at(-1)?.toFixed(0)}/s`);
      if (result.counted !== options.actions) log(`WARNING: counted ${result.counted} of ${options.actions} actions`);
    }
    const metrics = [
      valued("trust", "trust_update_rate", "updates/s", median(ingestRates), { op: ">=", value: Math.round(median(relaxedRates)) }),
      valued("trust", "relaxed_action_rate", "actions/s", median(relaxedRates)),
      valued("trust", "standard_action_rate", "actions/s", median(standardRates)),
      // the load of a shared machine moves both rates between rounds: the ratio within a round is steadier
      valued("trust", "trust_update_vs_relaxed", "ratio", median(ingestRates.map((r, i) => r / (relaxedRates[i] ?? r))), { op: ">=", value: 1 }),
    ];
    if (options.reports > 0) {
      const observer = new TrustClient().use(actorsNode);
      const start = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (;;) {
            const i = next++;
            if (i >= options.reports) return;
            await observer.report(`observer-${i % 16}`, { subject: `agent-${i % 50}`, outcome: i % 3 === 0 ? "failure" : "success" });
          }
        }),
      );
      metrics.push(valued("trust", "trust_report_rate", "reports/s", options.reports / ((performance.now() - start) / 1000)));
    }
    return { metrics };
  } finally {
    await relaxed.close().catch(() => undefined);
    await actorsNode.close().catch(() => undefined);
    await host.close().catch(() => undefined);
    await server[Symbol.asyncDispose]().catch(() => undefined);
    rmSync(keyDir, { recursive: true, force: true });
  }
};
