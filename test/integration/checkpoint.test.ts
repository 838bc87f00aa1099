import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Actor } from "../../actors/index.ts";
import type { ActorContext } from "../../runtime/index.ts";
import { startNode, startServer } from "../support/nats.ts";

const LedgerMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("credit"), account: z.string(), amount: z.number() }),
  z.strictObject({ type: z.literal("balances") }),
  z.strictObject({ type: z.literal("save") }),
]);
type LedgerMsg = z.infer<typeof LedgerMsg>;

class Accounts extends Actor<LedgerMsg, { balances: Map<string, number>; seen: Set<string>; since: Date }> {
  static override readonly protocol = LedgerMsg;
  override state = { balances: new Map<string, number>(), seen: new Set<string>(), since: new Date(0) };
  async handle(msg: LedgerMsg, ctx: ActorContext) {
    switch (msg.type) {
      case "credit":
        this.state.balances.set(msg.account, (this.state.balances.get(msg.account) ?? 0) + msg.amount);
        this.state.seen.add(ctx.messageId);
        return this.state.balances.get(msg.account);
      case "balances":
        return { balances: Object.fromEntries(this.state.balances), seen: this.state.seen.size, since: this.state.since.getTime() };
      case "save":
        return ctx.checkpoint();
    }
  }
}

describe("actor state checkpoints", () => {
  it("resumes an actor on another node from its last checkpoint (Map, Set and Date intact)", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    const ref = await a.spawn("accounts", Accounts);
    await ref.ask({ type: "credit", account: "acme", amount: 5 });
    await ref.ask({ type: "credit", account: "zeta", amount: 7 });
    expect(await ref.ask({ type: "save" })).toBeGreaterThan(0);
    await ref.ask({ type: "credit", account: "acme", amount: 100 }); // after the checkpoint: lost on the move
    await a.stopActor("accounts");
    const moved = await b.spawn("accounts", Accounts, { restore: true });
    expect(await moved.ask({ type: "balances" })).toEqual({ balances: { acme: 5, zeta: 7 }, seen: 2, since: 0 });
    await b.checkpoint("accounts");
  });

  it("starts from the class's initial state without restore, or when no checkpoint exists", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    const ref = await a.spawn("fresh", Accounts, { restore: true });
    expect(await ref.ask({ type: "balances" })).toEqual({ balances: {}, seen: 0, since: 0 });
  });
});
