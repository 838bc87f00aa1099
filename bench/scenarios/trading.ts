import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import { defineProfile, hasCode } from "../../protocols/index.ts";
import type { ActorContext } from "../../runtime/index.ts";
import { sleep } from "../stats.ts";
import { intBetween, normal, seededRandom, type Random } from "./random.ts";
import type { AgentReply, Scenario, ScenarioTask } from "./scenario.ts";

/**
 * `trading`: agents decide buy / sell / hold on each tick of a price that reverts to a slowly moving
 * fair value, and place orders under one behavioural profile (order size at most 100, notional at most
 * 10,000 USD). The expected outcome of a tick is what a trader who knew the true fair value would do
 * (price more than 0.7 below it: buy; more than 0.7 above: sell; else hold); the agents see only the
 * price and its trailing average. One agent drifts after a "model update" part-way through the run and
 * sizes its orders beyond the profile: the runtime blocks each of those orders and records a violation,
 * and a blocked order counts as a wrong outcome.
 */

export const Decision = z.enum(["buy", "sell", "hold"]);
export type Decision = z.infer<typeof Decision>;

const TickMsg = z.strictObject({
  type: z.literal("tick"),
  seq: z.number().int().min(0),
  symbol: z.literal("ACME"),
  price: z.number().positive(),
  /** Trailing mean of the last five prices. */
  average: z.number().positive(),
});
type TickMsg = z.infer<typeof TickMsg>;

const Answer = z.strictObject({ decision: Decision, qty: z.number().int().min(0), executed: z.boolean() });
type Answer = z.infer<typeof Answer>;

/** How far (in price units) the price must sit from the true fair value for buy or sell to be right. */
export const THRESHOLD = 0.7;
export const expectedDecision = (price: number, fair: number): Decision => (fair - price > THRESHOLD ? "buy" : price - fair > THRESHOLD ? "sell" : "hold");

export interface TraderConfig {
  /** Mean reversion (buy below the average) or momentum (buy above it). */
  readonly style: "reversion" | "momentum";
  /** Distance from the average that triggers an order. */
  readonly band: number;
  readonly qty: readonly [number, number];
  readonly tokens: readonly [number, number];
  /** From this tick on, the model update: orders of 150-400 (beyond the profile's 100) and more tokens. */
  readonly driftFrom?: number;
}

/** A trading agent: `analyse` (metered model tokens), then a `trade` under the profile when it decides to. */
export class Trader extends Actor<TickMsg> {
  static override readonly protocol = TickMsg;
  static override readonly profile = defineProfile({
    actions: {
      analyse: { params: z.object({ symbol: z.literal("ACME"), seq: z.number().int().min(0) }), maxUnits: { tokens: 2_000 } },
      trade: {
        params: z.object({ symbol: z.literal("ACME"), side: z.enum(["buy", "sell"]), qty: z.number().int().min(1).max(100) }),
        maxUnits: { usd: 10_000 },
      },
    },
    rate: { max: 10_000, windowMs: 1_000 },
    peers: [],
  });
  readonly #config: TraderConfig;
  readonly #random: Random;

  constructor(config: TraderConfig, seed: number) {
    super();
    this.#config = config;
    this.#random = seededRandom(seed);
  }

  async handle(msg: TickMsg, ctx: ActorContext): Promise<Answer> {
    const c = this.#config;
    const drifted = c.driftFrom !== undefined && msg.seq >= c.driftFrom;
    const tokens = intBetween(this.#random, ...c.tokens) * (drifted ? 2 : 1);
    const decision = await ctx.act("analyse", { symbol: msg.symbol, seq: msg.seq }, async () => {
      ctx.meter("tokens", tokens);
      await sleep(tokens / 100);
      return this.#decide(msg);
    });
    if (decision === "hold") return { decision, qty: 0, executed: false };
    const qty = drifted ? intBetween(this.#random, 150, 400) : intBetween(this.#random, ...c.qty);
    const exchangeMs = intBetween(this.#random, 1, 3);
    try {
      await ctx.act("trade", { symbol: msg.symbol, side: decision, qty }, () => sleep(exchangeMs), { cost: { usd: Math.round(qty * msg.price) } });
      return { decision, qty, executed: true };
    } catch (error) {
      // blocked by the profile (recorded by the runtime): the order was not placed
      if (hasCode(error, "ERR_PROFILE_VIOLATION")) return { decision, qty, executed: false };
      throw error;
    }
  }

  #decide(msg: TickMsg): Decision {
    const gap = msg.price - msg.average;
    const { style, band } = this.#config;
    if (Math.abs(gap) <= band) return "hold";
    const below = gap < 0;
    return style === "reversion" ? (below ? "buy" : "sell") : below ? "sell" : "buy";
  }
}

interface TradingTask extends ScenarioTask {
  readonly message: TickMsg;
}

/**
 * The market: a fair value on a slow random walk from 100 (σ 0.1 per tick), and a price pulled halfway
 * back to it each tick with noise σ 1. Reverting to the trailing average is right about 60% of the
 * time, holding wider about 50%, following momentum about 25% (measured on 20,000 simulated ticks).
 */
const workload = (random: Random, size: number): TradingTask[] => {
  const fair: number[] = [100];
  const prices: number[] = [100];
  for (let i = 0; i < size + 5; i++) {
    const f = fair[fair.length - 1] ?? 100;
    const p = prices[prices.length - 1] ?? 100;
    prices.push(Math.max(1, p + 0.5 * (f - p) + normal(random)));
    fair.push(f + 0.1 * normal(random));
  }
  const round = (v: number) => Math.round(v * 100) / 100;
  // four ticks of history before the first task, so every task has a full trailing average
  return Array.from({ length: size }, (_, i) => {
    const t = i + 5;
    const price = round(prices[t] ?? 100);
    const window = prices.slice(t - 4, t + 1);
    const average = round(window.reduce((s, p) => s + p, 0) / window.length);
    return {
      id: `tick-${i}`,
      message: { type: "tick", seq: i, symbol: "ACME", price, average },
      expected: expectedDecision(price, fair[t] ?? 100),
    };
  });
};

/** Correct when the decision is the expected one and, for buy or sell, the order was actually placed. */
const score = (task: ScenarioTask, reply: AgentReply): boolean => {
  if (!reply.ok) return false;
  const answer = Answer.safeParse(reply.value);
  if (!answer.success || answer.data.decision !== task.expected) return false;
  return answer.data.decision === "hold" || answer.data.executed;
};

const reversion = { style: "reversion", band: 0.5, qty: [10, 50], tokens: [150, 250] } as const satisfies TraderConfig;

export const trading: Scenario = {
  name: "trading",
  description: "four traders on a price reverting to a hidden fair value, under one profile (qty <= 100); one drifts after a model update and is blocked",
  unit: "tokens",
  defaultTasks: 40,
  agents: [
    { id: "steady", role: "mean reversion, band 0.5", actor: Trader, args: ({ seed }) => [reversion, seed] },
    { id: "cautious", role: "mean reversion, band 1.5: holds more", actor: Trader, args: ({ seed }) => [{ ...reversion, band: 1.5, tokens: [200, 300] }, seed] },
    { id: "momentum", role: "buys strength: the wrong model for this market", actor: Trader, args: ({ seed }) => [{ ...reversion, style: "momentum", tokens: [60, 100] }, seed] },
    {
      id: "drifter",
      role: "mean reversion until a model update at 40-60% of the run, then orders of 150-400 (blocked)",
      actor: Trader,
      args: ({ seed, tasks }) => {
        const driftFrom = Math.floor(tasks * (0.4 + 0.2 * seededRandom(seed ^ 0x5eed)()));
        return [{ ...reversion, driftFrom }, seed];
      },
    },
  ],
  workload,
  score,
};
