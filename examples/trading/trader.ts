import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import { defineProfile, isTetherError } from "../../protocols/index.ts";
import type { ActorContext } from "../../runtime/index.ts";

/**
 * The seed-02 trading agent: each order is one compensable `trade` action (so its params are stored with
 * its ECT, where the drift verifier can read them). Its behavioural profile is the desk's risk limit:
 * at most 100 lots per trade, two symbols; a violation is blocked and costs trust (`trust-penalty`).
 */
export const TraderMsg = z.strictObject({
  type: z.literal("order"),
  symbol: z.string().max(16),
  qty: z.number().int(),
  price: z.number().positive(),
});
export type TraderMsg = z.infer<typeof TraderMsg>;

/** The desk's risk limit (lots per trade). */
export const RISK_LIMIT = 100;

export type OrderOutcome = { ok: true; filled: number } | { ok: false; code: string; kind?: string; reason?: string };

export class Trader extends Actor<TraderMsg, { filled: number }> {
  static override readonly protocol = TraderMsg;
  static override readonly capabilities = ["trading"];
  static override readonly profile = defineProfile({
    actions: {
      trade: { params: z.object({ symbol: z.enum(["ACME", "INIT"]), qty: z.number().int().min(1).max(RISK_LIMIT), price: z.number().positive() }) },
    },
    onViolation: "trust-penalty",
  });
  override state = { filled: 0 };

  async handle(msg: TraderMsg, ctx: ActorContext): Promise<OrderOutcome> {
    try {
      await ctx.act("trade", { symbol: msg.symbol, qty: msg.qty, price: msg.price }, () => (this.state.filled += msg.qty), { compensate: "cancel_trade" });
      return { ok: true, filled: msg.qty };
    } catch (error) {
      if (!isTetherError(error)) throw error;
      return { ok: false, code: error.code, kind: String(error.details["kind"] ?? ""), reason: String(error.details["reason"] ?? "") };
    }
  }

  compensate(): void {
    // a cancelled trade: nothing to undo in this simulation
  }
}
