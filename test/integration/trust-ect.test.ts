import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { connect } from "@nats-io/transport-node";
import { Actor, TrustClient } from "../../actors/index.ts";
import { TetherError, generateSigningKey, mintEct, mintUnsignedEct } from "../../protocols/index.ts";
import { FakeClock, agentUri, hashValue, networkAudience, type ActorContext, type Node } from "../../runtime/index.ts";
import { startCluster, startNode } from "../support/nats.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-trust-ect-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const HOUR = 3_600_000;
const Work = z.strictObject({ type: z.literal("work"), outcome: z.enum(["ok", "fail", "timeout"]) });
type Work = z.infer<typeof Work>;

/** An agent whose every message is one action that succeeds, fails, or times out. */
class Worker extends Actor<Work> {
  static override readonly protocol = Work;
  async handle(msg: Work, ctx: ActorContext) {
    return ctx
      .act("work", { outcome: msg.outcome }, () => {
        if (msg.outcome === "fail") throw new Error("broken");
        if (msg.outcome === "timeout") throw new TetherError("ERR_ASK_TIMEOUT", "the broker did not answer");
        return "done";
      })
      .catch(() => "failed");
  }
}

/** Three nodes, one per server of a 3-node cluster (R3 streams), standard profile (signed ECTs). */
const cluster3 = async (urls: readonly string[]) => {
  const options = { jetstreamReplicas: 3, assurance: { profile: "standard" as const, keyDir } };
  const [a, b, c] = await Promise.all(urls.map((u) => startNode(u, options)));
  return [a, b, c] as [Node, Node, Node];
};

describe("the trust actor reading outcomes from the ECT stream (3-node cluster)", () => {
  it("counts success, failure and timeout of actions on other nodes, per observing node, once each, and decays them on a fake clock", async () => {
    await using cluster = await startCluster();
    const [a, b, c] = await cluster3(cluster.urls);
    await using _a = a;
    await using _b = b;
    await using _c = c;
    const clock = new FakeClock(Date.now());
    const trust = await new TrustClient({ clock, params: { halfLifeMs: HOUR } }).attach(a).start();
    const good = await b.spawn("good", Worker);
    const bad = await c.spawn("bad", Worker);
    for (let i = 0; i < 6; i++) await good.ask({ type: "work", outcome: "ok" });
    for (let i = 0; i < 4; i++) await bad.ask({ type: "work", outcome: "fail" });
    for (let i = 0; i < 2; i++) await bad.ask({ type: "work", outcome: "timeout" });
    await bad.ask({ type: "work", outcome: "ok" });

    const first = await trust.ingestAll();
    expect(first.counted).toBe(13);
    expect(first.rejected).toBe(0);
    expect(await trust.score("good")).toMatchObject({ alpha: 7, beta: 1, observers: 1, reports: 6 });
    expect(await trust.score("bad")).toMatchObject({ alpha: 2, beta: 1 + 4 + 2 * 0.5, observers: 1, reports: 7 });
    const why = await trust.show("bad");
    expect(why.shares.map((s) => s.observer)).toEqual([`node:${c.id}`]);
    const last = why.recent.at(-1);
    // each evidence line is the action's own ECT, asserted by the batch's trust assertion ECT
    expect((await a.assurance.store.get(last?.report ?? "?"))?.actor).toBe("bad");
    const assertion = await a.assurance.store.get(last?.assertion ?? "?");
    expect(assertion).toMatchObject({ exec_act: "trust.assert", iss: `tether://${a.network}/agent/trust` });
    expect(assertion?.par).toContain(last?.report);

    // a second ingest finds nothing new: nothing is counted twice
    expect(await trust.ingestAll()).toMatchObject({ counted: 0 });
    expect((await trust.score("good")).reports).toBe(6);

    clock.advance(HOUR); // half the evidence is left
    expect((await trust.score("good")).alpha).toBeCloseTo(1 + 3, 9);

    // the actor moves to another node: position and scores come from its checkpoint
    await a.stopActor(trust.actorId);
    const moved = await new TrustClient({ clock, params: { halfLifeMs: HOUR } }).attach(b).start();
    await good.ask({ type: "work", outcome: "fail" });
    expect(await moved.ingestAll()).toMatchObject({ counted: 1 });
    expect(await moved.score("good")).toMatchObject({ reports: 7 });
    expect((await moved.score("good")).alpha).toBeCloseTo(1 + 3, 9);
    expect((await moved.score("good")).beta).toBeCloseTo(1 + 1, 9);
  });

  it("a plain NATS client publishing forged, unsigned, copied or replayed ECT records on the stream subjects moves no score", async () => {
    await using cluster = await startCluster();
    const [a, b, c] = await cluster3(cluster.urls);
    await using _a = a;
    await using _b = b;
    await using _c = c;
    const clock = new FakeClock(Date.now()); // no decay while the attacker works
    const trust = await new TrustClient({ clock, ingest: { storeWindowMs: 1_000 } }).attach(a).start();
    const victim = await b.spawn("victim", Worker);
    for (let i = 0; i < 3; i++) await victim.ask({ type: "work", outcome: "ok" });
    expect(await trust.ingestAll()).toMatchObject({ counted: 3, rejected: 0 });
    const before = await trust.score("victim");
    const genuine = [];
    for await (const r of b.assurance.store.all()) if (r.actor === "victim") genuine.push(r);
    expect(genuine.length).toBe(3);

    const nc = await connect({ servers: cluster.urls[2] ?? "" });
    const bucket = `$KV.${a.subjects.ectBucket()}`;
    const put = (key: string, record: unknown) => nc.request(`${bucket}.ect.${key}`, JSON.stringify(record));
    let forged = 0;
    try {
      const now = () => Date.now();
      const failedClaims = (jti: string, act = "work", ext: Record<string, unknown> = {}) => ({
        iss: agentUri(a.network, "victim"),
        aud: [networkAudience(a.network)],
        jti,
        exec_act: act,
        par: [],
        inp_hash: hashValue({}),
        ext: { "dev.tether.node": b.id, "dev.tether.outcome": "failed", "dev.tether.level": "L2", ...ext },
      });
      const record = (jti: string, token: string, act = "work") => ({ jti, iat: Math.floor(now() / 1000), par: [], iss: agentUri(a.network, "victim"), exec_act: act, level: "L2", token, actor: "victim", at: now(), outcome: "failed" });
      const rogue = await generateSigningKey("ES256");
      for (let i = 0; i < 10; i++) {
        // 1. unsigned failure records on a signed network
        const u = crypto.randomUUID();
        await put(u, record(u, mintUnsignedEct(failedClaims(u), { now, ttlSeconds: 60 })));
        // 2. failures and quarantine-asking violations signed by a key the network never registered
        const r = crypto.randomUUID();
        await put(r, record(r, await mintEct(failedClaims(r), { key: rogue.privateKey, kid: rogue.kid, alg: rogue.alg, now, ttlSeconds: 60 })));
        const v = crypto.randomUUID();
        const violation = failedClaims(v, "tether.profile.violation", { "dev.tether.outcome": "refused", "dev.tether.violation": { kind: "params", judged: "work", response: "quarantine", reason: "made up", message: "m" } });
        await put(v, record(v, await mintEct(violation, { key: rogue.privateKey, kid: rogue.kid, alg: rogue.alg, now, ttlSeconds: 60 }), "tether.profile.violation"));
        // 3. blame for a rollback that never ran, unsigned and under the rogue key
        for (const sign of [false, true]) {
          const c = crypto.randomUUID();
          const blame = failedClaims(c, "tether.rollback.caused", { "dev.tether.outcome": "ok", "dev.tether.rollback": { reason: "made up", compensated: 1 } });
          const token = sign ? await mintEct(blame, { key: rogue.privateKey, kid: rogue.kid, alg: rogue.alg, now, ttlSeconds: 60 }) : mintUnsignedEct(blame, { now, ttlSeconds: 60 });
          await put(c, record(c, token, "tether.rollback.caused"));
        }
        forged += 5;
      }
      // 4. a genuine record copied under another key
      for (const [i, g] of genuine.entries()) {
        const copy = crypto.randomUUID();
        await put(copy, { ...g, jti: copy });
        void i;
        forged++;
      }
      // 5. a genuine record written again at once (within the store window: the actor's jti memory)
      await put(genuine[0]?.jti ?? "?", genuine[0]);
      forged++;
      // 6. and written again later than the window (the server's timestamp gives it away)
      await new Promise((r) => setTimeout(r, 2_500));
      await put(genuine[1]?.jti ?? "?", genuine[1]);
      forged++;
      // 7. garbage
      await put("garbage", { not: "a record" });
      forged++;
    } finally {
      await nc.close();
    }
    const result = await trust.ingestAll();
    expect(result).toMatchObject({ counted: 0, quarantined: [] });
    expect(result.rejected).toBe(forged);
    const after = await trust.score("victim");
    expect({ alpha: after.alpha, beta: after.beta, reports: after.reports }).toEqual({ alpha: before.alpha, beta: before.beta, reports: before.reports });

    // after a restart (default store window), the replay memory is rebuilt from the stream: a counted
    // record written again at once is still refused
    await a.stopActor(trust.actorId);
    const restarted = await new TrustClient({ clock }).attach(a).start();
    await victim.ask({ type: "work", outcome: "ok" });
    expect(await restarted.ingestAll()).toMatchObject({ counted: 1, rejected: 0 });
    await a.stopActor(trust.actorId);
    const again = await new TrustClient({ clock }).attach(c).start();
    const fresh = [];
    for await (const r of b.assurance.store.all()) if (r.actor === "victim") fresh.push(r);
    const newest = fresh.sort((x, y) => (y.at ?? 0) - (x.at ?? 0))[0];
    const nc2 = await connect({ servers: cluster.urls[1] ?? "" });
    try {
      await nc2.request(`${bucket}.ect.${newest?.jti}`, JSON.stringify(newest));
    } finally {
      await nc2.close();
    }
    expect(await again.ingestAll()).toMatchObject({ counted: 0, rejected: 1 });
    expect((await again.score("victim")).reports).toBe(before.reports + 1);
  });
});
