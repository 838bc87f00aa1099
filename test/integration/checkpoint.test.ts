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

describe("planned migration", () => {
  it("moves an actor to another node with its id and state; queued messages are handled first", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    for (const n of [a, b]) n.registerType(Accounts);
    const ref = await a.spawn("mover", Accounts);
    for (let i = 0; i < 20; i++) ref.tell({ type: "credit", account: "acme", amount: 1 });
    await a.migrate("mover", b.id);
    expect(a.localActors()).toEqual([]);
    expect(b.localActors()).toEqual(["mover"]);
    expect(await b.ref<typeof Accounts>("mover").ask({ type: "balances" })).toMatchObject({ balances: { acme: 20 }, seen: 20 });
    expect((await a.listActors()).find((r) => r.actorId === "mover")?.nodeId).toBe(b.id);
  });

  it("keeps the actor where it was when the target cannot host it", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url); // registers nothing
    a.registerType(Accounts);
    const ref = await a.spawn("stay", Accounts);
    await ref.ask({ type: "credit", account: "x", amount: 3 });
    const err = await a.migrate("stay", b.id).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("ERR_ACTOR_CLASS_INVALID");
    expect(a.localActors()).toEqual(["stay"]);
    expect(await a.ref<typeof Accounts>("stay").ask({ type: "balances" })).toMatchObject({ balances: { x: 3 } });
  });
});

describe("idle passivation", () => {
  it("drops an idle actor's instance after passivateAfterMs and revives it, state intact, on the next message", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    let constructed = 0;
    class Counted extends Accounts {
      constructor() {
        super();
        constructed++;
      }
    }
    const ref = await node.spawn("sleepy", Counted, { passivateAfterMs: 100 });
    await ref.ask({ type: "credit", account: "acme", amount: 9 });
    await new Promise((r) => setTimeout(r, 400));
    expect(node.passivatedActors()).toEqual(["sleepy"]);
    expect(constructed).toBe(1);
    expect(await ref.ask({ type: "balances" })).toMatchObject({ balances: { acme: 9 } }); // revived from the checkpoint
    expect(constructed).toBe(2);
    expect(node.passivatedActors()).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    expect(node.passivatedActors()).toEqual(["sleepy"]); // and passivated again when idle
  });
});
