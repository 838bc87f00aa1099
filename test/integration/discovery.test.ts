import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Actor, TrustClient } from "../../actors/index.ts";
import type { AdvertisementInput, BreakerSnapshot } from "../../protocols/index.ts";
import { FakeClock, type ActorContext, type Node, type TrustScorer } from "../../runtime/index.ts";
import { startNode, startServer } from "../support/nats.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-discovery-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));
const standard = { assurance: { profile: "standard" as const, keyDir } };

class Quoter extends Actor<{ type: "quote" }> {
  static override readonly protocol = z.strictObject({ type: z.literal("quote") });
  static override readonly advertise: AdvertisementInput = { capabilities: [{ name: "quote", versions: ["1.0", "1.1"] }], protocols: { "quote-wire": ["1.0", "1.1", "2.0"] } };
  constructor(readonly who: string = "?") {
    super();
  }
  handle(): string {
    return this.who;
  }
}
class Biller extends Quoter {
  static override readonly advertise: AdvertisementInput = { capabilities: [{ name: "billing", versions: ["1.0"] }], protocols: {} };
}

/** An agent that negotiates with a peer from inside its handler (ctx.negotiate), answering the version or the error. */
class Negotiator extends Actor<{ type: "negotiate"; peer: string }> {
  static override readonly protocol = z.strictObject({ type: z.literal("negotiate"), peer: z.string() });
  static override readonly advertise: AdvertisementInput = { protocols: { "quote-wire": ["1.0", "1.1", "2.0"] } };
  async handle(msg: { peer: string }, ctx: ActorContext): Promise<{ version?: string; code?: string; message?: string }> {
    try {
      return { version: await ctx.negotiate(ctx.ref(msg.peer), "quote-wire") };
    } catch (error) {
      return { code: (error as { code?: string }).code ?? "?", message: (error as Error).message };
    }
  }
}

/** An agent that routes to a capability from inside its handler (ctx.refByCapability), trust-weighted. */
class Router extends Actor<{ type: "route"; capability: string }> {
  static override readonly protocol = z.strictObject({ type: z.literal("route"), capability: z.string() });
  constructor(readonly scorer: TrustScorer) {
    super();
  }
  async handle(msg: { capability: string }, ctx: ActorContext): Promise<{ via: string; answer: unknown }> {
    const ref = await ctx.refByCapability(msg.capability, { trust: this.scorer, minTrust: 0.5 });
    return { via: ref.id, answer: await ref.ask({ type: "quote" }) };
  }
}

const codeOf = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
  try {
    await p;
    return { code: "ok", message: "" };
  } catch (error) {
    return { code: (error as { code?: string }).code ?? String(error), message: (error as Error).message };
  }
};

const open = (now: number): BreakerSnapshot => ({ type: "tether.breaker.v1.snapshot", state: "open", generation: 1, changedAt: now, openUntil: now + 3_600_000, origin: "test" });

/** Two nodes on one server; the trust actor on A; quoters `good` (on A) and `shady` (on B), a biller on B. */
const setup = async (url: string) => {
  // random() = 0 makes the weighted pick take the best-ranked healthy provider, so the test is deterministic
  const a = await startNode(url, standard, { random: () => 0 });
  const b = await startNode(url, standard, { random: () => 0 });
  const trust = await new TrustClient().attach(a).start();
  const observer = new TrustClient().use(b);
  await a.spawn("good", Quoter, { args: ["good"] });
  await b.spawn("shady", Quoter, { args: ["shady"], advertise: { capabilities: [{ name: "quote", versions: ["1.0"] }], protocols: { "quote-wire": ["0.9"] } } });
  await b.spawn("biller", Biller, { args: ["biller"] });
  for (let i = 0; i < 3; i++) {
    await observer.report("monitor", { subject: "good", outcome: "success" });
    await observer.report("monitor", { subject: "shady", outcome: "failure" });
  }
  const scorer: TrustScorer = async (agent) => (await trust.score(agent)).score;
  return { a, b, trust, scorer };
};

const ids = (xs: readonly { actorId: string }[]) => xs.map((x) => x.actorId);

describe("capability discovery on nats-server", () => {
  it("finds live providers across two nodes, sorted by the trust actor's scores, filtered by minTrust and version", async () => {
    await using server = await startServer();
    const { a, b, scorer } = await setup(server.url);
    await using _a = a;
    await using _b = b;

    const all = await b.find("quote", { trust: scorer });
    expect(ids(all)).toEqual(["good", "shady"]);
    expect(all[0]?.trust).toBeGreaterThan(0.5);
    expect(all[1]?.trust).toBeLessThan(0.5);
    expect(all.map((p) => p.nodeId)).toEqual([a.id, b.id]);
    expect(all[0]?.versions).toEqual(["1.0", "1.1"]);

    expect(ids(await b.find("quote", { trust: scorer, minTrust: 0.6 }))).toEqual(["good"]);
    expect(ids(await a.find("quote", { version: "1.1" }))).toEqual(["good"]);
    expect(ids(await a.find("quote", { version: "1" }))).toEqual(["good", "shady"]); // "1" = "1.0"
    expect(ids(await a.find("billing"))).toEqual(["biller"]);
    // the advertised names are in the record's capability list (what policy admission saw)
    expect((await a.whereIs("good"))?.record.capabilities).toEqual(["quote"]);
    expect((await codeOf(a.find("quote", { minTrust: 0.5 }))).code).toBe("ERR_CONFIG_INVALID");

    // a provider that stopped is no longer found
    await b.stopActor("shady");
    expect(ids(await a.find("quote", { trust: scorer }))).toEqual(["good"]);
  });

  it("leaves out providers whose node's lease has expired", async () => {
    await using server = await startServer();
    const clock = new FakeClock(Date.now());
    const observer = await startNode(server.url, {}, { clock }); // reads the registry on a clock we move
    await using _o = observer;
    const host = await startNode(server.url);
    await using _h = host;
    await host.spawn("q1", Quoter);
    expect(ids(await observer.find("quote"))).toEqual(["q1"]);
    clock.advance(2 * host.options.leaseTtlMs); // host's last heartbeat is now older than its lease
    expect(await observer.isNodeAlive(host.id)).toBe(false);
    expect(await observer.find("quote")).toEqual([]);
    expect((await codeOf(observer.refByCapability("quote"))).code).toBe("ERR_NO_PROVIDER");
  });

  it("picks a provider by trust, skips one whose shared breaker is open, and fails with ERR_NO_PROVIDER when none qualifies", async () => {
    await using server = await startServer();
    const { a, b, scorer } = await setup(server.url);
    await using _a = a;
    await using _b = b;

    const first = await b.refByCapability("quote", { trust: scorer });
    expect(first.id).toBe("good");
    expect(await first.ask({ type: "quote" })).toBe("good");

    const board = await a.breakerBoard();
    await board.put("good", open(Date.now()));
    const second = await b.refByCapability("quote", { trust: scorer });
    expect(second.id).toBe("shady");
    expect(await second.ask({ type: "quote" })).toBe("shady");

    const tooLow = await codeOf(b.refByCapability("quote", { trust: scorer, minTrust: 0.6 })); // only good qualifies, and it is open
    expect(tooLow.code).toBe("ERR_NO_PROVIDER");
    expect(tooLow.message).toContain("quote");
    expect(tooLow.message).toContain("breaker is open");

    await board.put("shady", open(Date.now()));
    expect((await codeOf(b.refByCapability("quote", { trust: scorer }))).code).toBe("ERR_NO_PROVIDER");

    const none = await codeOf(a.refByCapability("translate"));
    expect(none.code).toBe("ERR_NO_PROVIDER");
    expect(none.message).toContain("capability translate");
    expect((await codeOf(a.refByCapability("quote", { version: "3.0" }))).code).toBe("ERR_NO_PROVIDER");

    // a half-open breaker lets probes through again
    await board.put("good", { ...open(Date.now()), state: "half_open", generation: 2, openUntil: null });
    expect((await b.refByCapability("quote", { trust: scorer })).id).toBe("good");
  });

  it("routes by capability from inside a handler (ctx.refByCapability): the trusted provider, never one under minTrust; ERR_NO_PROVIDER reaches the asker", async () => {
    await using server = await startServer();
    const { a, b, scorer } = await setup(server.url);
    await using _a = a;
    await using _b = b;
    await b.spawn("router", Router, { args: [scorer] });
    expect(await a.ref<typeof Router>("router").ask({ type: "route", capability: "quote" })).toEqual({ via: "good", answer: "good" });
    const board = await a.breakerBoard();
    await board.put("good", open(Date.now())); // shady is below minTrust: nobody qualifies
    expect((await codeOf(a.ref<typeof Router>("router").ask({ type: "route", capability: "quote" }))).code).toBe("ERR_NO_PROVIDER");
    expect((await codeOf(a.ref<typeof Router>("router").ask({ type: "route", capability: "translate" }))).code).toBe("ERR_NO_PROVIDER");
  });

  it("negotiates the highest common protocol version between two agents on two nodes, or fails naming both offers", async () => {
    await using server = await startServer();
    const a: Node = await startNode(server.url);
    await using _a = a;
    const b: Node = await startNode(server.url);
    await using _b = b;
    await a.spawn("buyer", Quoter);
    await b.spawn("seller", Quoter, { advertise: { protocols: { "quote-wire": ["1.1", "1.2"] } } });
    await b.spawn("legacy", Quoter, { advertise: { protocols: { "quote-wire": ["0.9"] } } });

    expect(await a.negotiate("buyer", "seller", "quote-wire")).toBe("1.1");
    expect(await b.negotiate("seller", "buyer", "quote-wire")).toBe("1.1");

    const failed = await codeOf(a.negotiate("buyer", "legacy", "quote-wire"));
    expect(failed.code).toBe("ERR_VERSION_NEGOTIATION_FAILED");
    expect(failed.message).toContain("buyer offers [1.0, 1.1, 2.0]");
    expect(failed.message).toContain("legacy offers [0.9]");
    expect((await codeOf(a.negotiate("buyer", "seller", "other-protocol"))).code).toBe("ERR_VERSION_NEGOTIATION_FAILED");

    // from inside a handler: the agent on A negotiates with agents on B through ctx.negotiate
    const agent = await a.spawn("agent", Negotiator);
    expect(await agent.ask({ type: "negotiate", peer: "seller" })).toEqual({ version: "1.1" });
    const refused = (await agent.ask({ type: "negotiate", peer: "legacy" })) as { code: string; message: string };
    expect(refused.code).toBe("ERR_VERSION_NEGOTIATION_FAILED");
    expect(refused.message).toContain("agent offers [1.0, 1.1, 2.0]");
    expect(refused.message).toContain("legacy offers [0.9]");
  });
});
