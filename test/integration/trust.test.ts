import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, type Msg } from "@nats-io/transport-node";
import { TrustClient, mintActorEct } from "../../actors/index.ts";
import { TrustReportBody, encodeSend, generateSigningKey, mintEct, mintUnsignedEct, type TrustReport } from "../../protocols/index.ts";
import { FakeClock, agentUri, hashValue, networkAudience } from "../../runtime/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { runTether } from "../support/processes.ts";
import { readAnswer } from "../support/wire.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-trust-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const HOUR = 3_600_000;
const standard = { assurance: { profile: "standard" as const, keyDir } };

/** The trust actor on `host` (decaying on a fake clock); observers report from `observerNode`. */
const setup = async (url: string) => {
  const clock = new FakeClock(Date.now());
  const host = await startNode(url, standard);
  const trust = await new TrustClient({ clock, params: { halfLifeMs: HOUR, observerCap: 10 } }).attach(host).start();
  const observerNode = await startNode(url, standard);
  const observer = new TrustClient().use(observerNode);
  return { clock, host, trust, observerNode, observer };
};

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return "ok";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
};

const body = (subject: string, outcome: TrustReport["body"]["outcome"]) => TrustReportBody.parse({ type: "tether.trust.v1.report-body", subject, outcome });

describe("the trust actor", () => {
  it("scores agents from signed reports across nodes, records assertion ECTs, explains the score, and decays it", async () => {
    await using server = await startServer();
    const { clock, host, trust, observerNode, observer } = await setup(server.url);
    await using _h = host;
    await using _o = observerNode;

    expect((await trust.score("diagnosis")).score).toBe(0.5); // newcomer prior
    for (let i = 0; i < 4; i++) await observer.report("monitor", { subject: "diagnosis", outcome: "failure", note: "router is up" });
    await observer.report("optimiser", { subject: "diagnosis", outcome: "success" });
    const scored = await trust.score("diagnosis");
    expect(scored).toMatchObject({ alpha: 2, beta: 5, observers: 2, reports: 5 });
    expect(scored.score).toBeCloseTo(2 / 7, 12);

    const shown = await trust.show("diagnosis");
    expect(shown.shares.map((s) => [s.observer, s.positive, s.negative]).sort()).toEqual([
      ["agent:monitor", 0, 4],
      ["agent:optimiser", 1, 0],
    ]);
    const last = shown.recent.at(-1);
    expect(last?.observer).toBe("agent:optimiser");
    // the assertion is an ECT in the DAG store whose parent is the observer's report ECT
    const assertion = await observerNode.assurance.store.get(last?.assertion ?? "missing");
    expect(assertion).toMatchObject({ exec_act: "trust.assert", par: [last?.report], iss: agentUri(host.network, "trust") });
    const reportEct = await observerNode.assurance.store.get(last?.report ?? "missing");
    expect(reportEct).toMatchObject({ exec_act: "trust.report", iss: agentUri(host.network, "optimiser") });

    clock.advance(2 * HOUR); // a quarter of the evidence is left
    const decayed = await trust.score("diagnosis");
    expect(decayed.alpha).toBeCloseTo(1 + 0.25, 9);
    expect(decayed.beta).toBeCloseTo(1 + 1, 9);
    expect((await trust.list()).map((s) => s.agent)).toEqual(["diagnosis"]);
  });

  it("refuses tampered, replayed, self-issued and foreign-key reports, and the score does not move", async () => {
    await using server = await startServer();
    const { host, trust, observerNode, observer } = await setup(server.url);
    await using _h = host;
    await using _o = observerNode;
    await observer.report("monitor", { subject: "worker", outcome: "success" });
    const before = await trust.score("worker");
    const ask = (msg: TrustReport) => observerNode.ref(trust.actorId).ask(msg);

    // a genuine token over another body
    const good = body("worker", "success");
    const genuine = await mintActorEct(observerNode, { actorId: "monitor", act: "trust.report", par: [], wid: undefined, input: good, ext: {} });
    expect(await codeOf(ask({ type: "tether.trust.v1.report", body: body("worker", "violation"), token: genuine.token }))).toBe("ERR_TRUST_REPORT_INVALID");
    // the genuine report counts once; its replay is refused
    expect(await codeOf(ask({ type: "tether.trust.v1.report", body: good, token: genuine.token }))).toBe("ok");
    expect(await codeOf(ask({ type: "tether.trust.v1.report", body: good, token: genuine.token }))).toBe("ERR_TRUST_REPORT_INVALID");
    // an agent vouching for itself
    expect(await codeOf(observer.report("worker", { subject: "worker", outcome: "success" }))).toBe("ERR_TRUST_REPORT_INVALID");
    // a token signed with a key the network never registered, and an unsigned one on a standard node
    const rogue = await generateSigningKey("ES256");
    const smear = body("worker", "violation");
    const now = () => Date.now();
    const claims = { iss: agentUri(host.network, "monitor"), aud: [networkAudience(host.network)], jti: crypto.randomUUID(), exec_act: "trust.report", par: [], inp_hash: hashValue(smear), ext: { "dev.tether.node": observerNode.id } };
    const forged = await mintEct(claims, { key: rogue.privateKey, kid: rogue.kid, alg: rogue.alg, now, ttlSeconds: 60 });
    expect(await codeOf(ask({ type: "tether.trust.v1.report", body: smear, token: forged }))).toBe("ERR_TRUST_REPORT_INVALID");
    const unsigned = mintUnsignedEct({ ...claims, jti: crypto.randomUUID() }, { now, ttlSeconds: 60 });
    expect(await codeOf(ask({ type: "tether.trust.v1.report", body: smear, token: unsigned }))).toBe("ERR_TRUST_REPORT_INVALID");

    const after = await trust.score("worker");
    expect(after.alpha).toBe(before.alpha + 1); // only the one genuine report counted
    expect(after.beta).toBe(before.beta);
  });

  it("lets a plain NATS client neither forge nor replay a report in the standard profile", async () => {
    await using server = await startServer();
    const { host, trust, observerNode, observer } = await setup(server.url);
    await using _h = host;
    await using _o = observerNode;
    await observer.report("monitor", { subject: "worker", outcome: "success" });
    const before = await trust.score("worker");

    const nc = await connect({ servers: server.url });
    try {
      const subject = host.subjects.actor(trust.actorId);
      // capture a genuine report on the wire, with its headers
      const captured: Msg[] = [];
      const sub = nc.subscribe(subject, { callback: (_e, m) => void captured.push(m) });
      await nc.flush();
      await observer.report("monitor", { subject: "worker", outcome: "failure" });
      await eventually(() => captured.some((m) => m.data.length > 0), 5_000, "a captured report");
      sub.unsubscribe();
      const counted = await trust.score("worker");
      expect(counted.beta).toBe(before.beta + 1);

      // 1. forged reports with no token, with a made-up unsigned token, with a rogue signed one
      const smear = body("worker", "violation");
      const now = () => Date.now();
      const claims = { iss: agentUri(host.network, "monitor"), aud: [networkAudience(host.network)], jti: crypto.randomUUID(), exec_act: "trust.report", par: [], inp_hash: hashValue(smear) };
      const rogue = await generateSigningKey("ES256");
      const tokens = [mintUnsignedEct(claims, { now, ttlSeconds: 60 }), await mintEct({ ...claims, jti: crypto.randomUUID() }, { key: rogue.privateKey, kid: rogue.kid, alg: rogue.alg, now, ttlSeconds: 60 })];
      for (const [i, token] of tokens.entries()) {
        for (let k = 0; k < 20; k++) {
          const reply = await nc.request(subject, encodeSend("ask", `forge-${i}-${k}`, "agent:monitor", false, { type: "tether.trust.v1.report", body: smear, token }), { timeout: 5_000 });
          expect(readAnswer(reply.data).ok).toBe(false);
        }
      }
      // 2. the captured genuine message, replayed byte for byte with its headers
      for (const m of captured) {
        const reply = await nc.request(subject, m.data, { timeout: 5_000, ...(m.headers === undefined ? {} : { headers: m.headers }) }).catch((e: unknown) => e);
        if (!(reply instanceof Error)) expect(readAnswer((reply as Msg).data).ok).toBe(false);
      }
    } finally {
      await nc.close();
    }
    const after = await trust.score("worker");
    expect(after.alpha).toBe(before.alpha);
    expect(after.beta).toBe(before.beta + 1);
  });

  it("keeps scores and replay memory across a restart of the trust actor on another node", async () => {
    await using server = await startServer();
    const { clock, host, trust, observerNode, observer } = await setup(server.url);
    await using _o = observerNode;
    for (let i = 0; i < 3; i++) await observer.report("monitor", { subject: "worker", outcome: "failure" });
    const good = body("worker", "success");
    const genuine = await mintActorEct(observerNode, { actorId: "monitor", act: "trust.report", par: [], wid: undefined, input: good, ext: {} });
    const report: TrustReport = { type: "tether.trust.v1.report", body: good, token: genuine.token };
    expect(await codeOf(observerNode.ref(trust.actorId).ask(report))).toBe("ok");
    const before = await trust.score("worker");
    await host[Symbol.asyncDispose]();
    const trust2 = await new TrustClient({ clock, params: { halfLifeMs: HOUR, observerCap: 10 } }).attach(observerNode).start();
    let after = await trust2.score("worker");
    expect(after).toMatchObject({ alpha: before.alpha, beta: before.beta, reports: 4 });
    // the report counted before the restart is still refused as a replay after it
    expect(await codeOf(observerNode.ref(trust2.actorId).ask(report))).toBe("ERR_TRUST_REPORT_INVALID");
    after = await trust2.score("worker");
    expect(after.reports).toBe(4);
  });

  it("explains scores through `tether trust ls|show` (relaxed profile: unsigned report tokens)", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const trust = await new TrustClient().attach(node).start();
    await trust.report("monitor", { subject: "diagnosis", outcome: "violation", note: "said the router is down" });
    await trust.report("monitor", { subject: "optimiser", outcome: "success" });
    const ls = await runTether(["trust", "ls", "--json", "--nats", server.url]);
    expect(ls.code, ls.stderr).toBe(0);
    const rows = ls.stdout.trim().split("\n").map((l) => JSON.parse(l) as { agent: string; score: number });
    expect(rows.map((r) => r.agent)).toEqual(["diagnosis", "optimiser"]); // lowest score first
    expect(rows[0]?.score).toBeCloseTo(1 / 5, 4); // real clock: a few ms of decay
    const show = await runTether(["trust", "show", "diagnosis", "--nats", server.url]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain("score     0.200");
    expect(show.stdout).toMatch(/observer  agent:monitor  \+0\.00 -3\.00/);
    expect(show.stdout).toContain('violation');
    expect(show.stdout).toContain('"said the router is down"');
    const json = await runTether(["trust", "show", "newcomer", "--json", "--nats", server.url]);
    expect(JSON.parse(json.stdout)).toMatchObject({ score: { agent: "newcomer", score: 0.5, observers: 0 }, shares: [], recent: [] });
  });
});
