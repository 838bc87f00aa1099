/**
 * `npm run bench -- agents`: agent-level benchmarks. Today: `profile_enforcement`, the rate of
 * `ctx.act` for an agent with a behavioural profile (action names, zod parameter bounds, a per-action
 * and a total rate, unit limits, peers) against the same agent with none, on one node (goal ≥ 0.9×).
 */
import { z } from "zod";
import { defineProfile } from "../protocols/index.ts";
import { NatsServer, Node, silentLogger, type ActorContext } from "../runtime/index.ts";
import { comparedWith, type ComparedMetric } from "./report.ts";
import { median } from "./stats.ts";

export interface AgentsOptions {
  readonly rounds: number;
  readonly actions: number;
}

const log = (line: string) => process.stderr.write(`[bench] agents: ${line}\n`);

const RunMsg = z.strictObject({ type: z.literal("run"), n: z.number().int().positive() });

/** Runs `n` actions in one handler and answers with the elapsed ms (the action path alone, no messaging). */
class BareAgent {
  static readonly protocol = RunMsg;
  async handle(msg: z.infer<typeof RunMsg>, ctx: ActorContext): Promise<number> {
    const started = performance.now();
    for (let i = 0; i < msg.n; i++) await ctx.act("trade", { symbol: "ACME", qty: (i % 100) + 1 }, () => i, { cost: { usd: 100 } });
    return performance.now() - started;
  }
}

/** The same agent under a profile whose every check runs on each action and none trips. */
class ProfiledAgent extends BareAgent {
  static readonly profile = defineProfile({
    actions: {
      trade: { params: z.object({ symbol: z.enum(["ACME", "INIT"]), qty: z.number().int().min(1).max(100) }), rate: { max: 10_000, windowMs: 1 }, maxUnits: { usd: 10_000 } },
      quote: {},
    },
    rate: { max: 10_000, windowMs: 1 },
    peers: ["broker", "desk-*"],
  });
}

export const runAgents = async (options: AgentsOptions): Promise<ComparedMetric<"bare">[]> => {
  const server = await NatsServer.start({ name: "bench-agents" });
  const node = await Node.create({ servers: [server.url], nodeId: "agents" }, { logger: silentLogger });
  try {
    const bare = await node.spawn("bare", BareAgent);
    const profiled = await node.spawn("profiled", ProfiledAgent);
    const rate = async (ref: typeof bare) => (options.actions / ((await ref.ask({ type: "run", n: options.actions }, { timeoutMs: 600_000 })) as number)) * 1000;
    // warm-up, then rounds alternating which side goes first
    await rate(bare);
    await rate(profiled);
    const bareRates: number[] = [];
    const profiledRates: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      if (r % 2 === 0) {
        bareRates.push(await rate(bare));
        profiledRates.push(await rate(profiled));
      } else {
        profiledRates.push(await rate(profiled));
        bareRates.push(await rate(bare));
      }
      log(`round ${r + 1}: bare ${bareRates.at(-1)?.toFixed(0)}/s, profiled ${profiledRates.at(-1)?.toFixed(0)}/s`);
    }
    return [comparedWith("bare")("agents", "profile_enforcement", "actions/s", median(profiledRates), median(bareRates), { op: ">=", value: 0.9 })];
  } finally {
    await node.close().catch(() => undefined);
    await server.stop();
  }
};
