import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, headers } from "@nats-io/transport-node";
import {
  HeaderNames,
  decodeEctUnverified,
  encodeSend,
  generateSigningKey,
  hasCode,
  mintEct,
  mintUnsignedEct,
  type ErrorCode,
} from "../../protocols/index.ts";
import type { Node, NodeOptionsInput } from "../../runtime/index.ts";
import { Stepper } from "../support/chain-actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const profile = (p: "relaxed" | "standard" | "regulated", extra: Record<string, unknown> = {}): NodeOptionsInput => ({
  assurance: { profile: p, keyDir, ...extra } as NodeOptionsInput["assurance"],
});

/** Every stored ECT of one workflow, with decoded claims, in minting order. */
const workflowTokens = async (node: Node, wid: string) => {
  const out = [];
  for await (const r of node.assurance.store.all()) if (r.wid === wid) out.push({ ...r, claims: decodeEctUnverified(r.token).claims });
  return out.sort((a, b) => a.iat - b.iat || (a.par.includes(b.jti) ? 1 : b.par.includes(a.jti) ? -1 : 0));
};

const chain = [
  { actor: "a", action: "review_requirements_spec" },
  { actor: "b", action: "implement_module" },
  { actor: "a2", action: "execute_test_suite" },
];

describe("Execution Context Tokens on the action path", () => {
  it.each(["relaxed", "standard"] as const)("links every action of a cross-node run into one DAG (%s)", async (p) => {
    await using server = await startServer();
    await using n1 = await startNode(server.url, profile(p));
    await using n2 = await startNode(server.url, profile(p));
    await n1.spawn("a", Stepper);
    await n2.spawn("b", Stepper);
    await n1.spawn("a2", Stepper);
    const result = await n1.ref<typeof Stepper>("a").ask({ type: "step", hops: chain });
    expect(result.actions).toEqual(chain.map((h) => h.action));
    const wid = result.wid as string;
    expect(wid).toMatch(/^[0-9a-f-]{36}$/);
    const tokens = await workflowTokens(n2, wid);
    expect(tokens.map((t) => t.exec_act)).toEqual(chain.map((h) => h.action));
    expect(tokens[0]?.par).toEqual([]);
    expect(tokens[1]?.par).toEqual([tokens[0]?.jti]);
    expect(tokens[2]?.par).toEqual([tokens[1]?.jti]);
    for (const t of tokens) {
      expect(t.level).toBe(p === "relaxed" ? "L1" : "L2");
      expect(t.token.includes(".")).toBe(p !== "relaxed"); // L1 tokens are unsigned single segments
      expect(t.claims).toMatchObject({ wid, aud: ["tether://default"], iss: expect.stringMatching(/^tether:\/\/default\/agent\/(a|b|a2)$/) });
      expect((t.claims["ext"] as Record<string, unknown>)["dev.tether.outcome"]).toBe("ok");
    }
  });

  it("refuses forged, tampered, replayed and too-weak tokens on a standard node, each with its own code", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, profile("standard"));
    await node.spawn("target", Stepper);
    const subject = node.subjects.actor("target");
    const nc = await connect({ servers: server.url });
    try {
      const send = async (token: string, id: string, binding?: (data: Uint8Array) => string | undefined): Promise<string> => {
        const h = headers();
        h.set(HeaderNames.executionContext, token);
        const data = encodeSend("ask", id, "raw-client", false, { type: "seq", n: 1 });
        const bound = binding?.(data);
        if (bound !== undefined) h.set(HeaderNames.binding, bound);
        const reply = await nc.request(subject, data, { headers: h, timeout: 5_000 });
        const answer = readAnswer(reply.data);
        return answer.ok ? "ok" : answer.error.code;
      };
      const claims = { iss: "tether://default/agent/x", aud: ["tether://default"], exec_act: "probe", par: [] };
      const stranger = await generateSigningKey("ES256");
      const forged = await mintEct(claims, { key: stranger.privateKey, kid: stranger.kid, alg: "ES256" });
      const kid = node.assurance.kid as string;
      expect(kid).toBeDefined();
      const cases: [string, string, ErrorCode | "ok"][] = [
        ["unknown kid", forged, "ERR_ECT_KID_UNKNOWN"],
        ["unsigned (L1) below L2", mintUnsignedEct(claims), "ERR_ECT_LEVEL_TOO_LOW"],
        ["garbage", "a.b.c", "ERR_ECT_MALFORMED"],
      ];
      for (const [what, token, code] of cases) expect({ what, code: await send(token, `m-${what.length}`) }).toEqual({ what, code });

      // a genuine token from a node of the network, then the same message replayed, then tampered
      await using peer = await startNode(server.url, profile("standard"));
      await peer.spawn("minter", Stepper);
      const r = await peer.ref<typeof Stepper>("minter").ask({ type: "step", hops: [{ actor: "minter", action: "mint_one" }] });
      const genuine = (await workflowTokens(peer, r.wid as string))[0]?.token as string;
      const jti = String(decodeEctUnverified(genuine).claims.jti);
      // the peer node binds its token to the message (as its runtime does); a plain client cannot
      const byPeer = (id: string) => (data: Uint8Array) => peer.assurance.bind({ token: genuine, jti, wid: undefined, level: "L2", receipt: undefined }, id, "target", data);
      expect(await send(genuine, "msg-0")).toBe("ERR_ECT_BINDING_MISSING");
      expect(await send(genuine, "msg-1", byPeer("msg-1"))).toBe("ok");
      expect(await send(genuine, "msg-1", byPeer("msg-1"))).toBe("ERR_ECT_REPLAYED");
      const [h, p, s] = genuine.split(".") as [string, string, string];
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodeEctUnverified(genuine).claims, exec_act: "evil" })).toString("base64url")}.${s}`;
      expect(p).not.toBe(tampered.split(".")[1]);
      expect(await send(tampered, "msg-2")).toBe("ERR_ECT_SIGNATURE_INVALID");
    } finally {
      await nc.close();
    }
  });

  it("keeps arrival order while tokens are verified asynchronously", async () => {
    await using server = await startServer();
    await using n1 = await startNode(server.url, profile("standard"));
    await using n2 = await startNode(server.url, profile("standard"));
    const log: string[] = [];
    await n2.spawn("sink", Stepper, { args: [log] });
    await n1.spawn("source", Stepper);
    // source performs an action, then tells 200 messages that all carry its signed token
    await n1.ref<typeof Stepper>("source").ask({ type: "burst", to: "sink", n: 200 });
    await eventually(() => log.length === 200, 10_000, "200 messages");
    expect(log).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it("rotates a node key (old tokens still verify) and revokes it everywhere at once", async () => {
    await using server = await startServer();
    await using n1 = await startNode(server.url, profile("standard"));
    await using n2 = await startNode(server.url, profile("standard"));
    await n2.spawn("b", Stepper);
    await n1.spawn("a", Stepper);
    const oldKid = n1.assurance.kid as string;
    const newKid = await n1.assurance.rotateKey();
    expect(newKid).not.toBe(oldKid);
    expect((await n2.assurance.keys.get(oldKid))?.status).toBe("retired");
    expect(await n2.assurance.keys.resolve(oldKid)).toBeDefined(); // retired keys verify during the grace period
    const ok = await n1.ref<typeof Stepper>("a").ask({ type: "step", hops: [{ actor: "a", action: "after_rotation" }, { actor: "b", action: "downstream" }] });
    expect(ok.actions).toEqual(["after_rotation", "downstream"]);
    await n2.assurance.revokeKey(newKid, "compromised in test");
    await eventually(() => n1.assurance.keys.isRevoked(newKid), 2_000, "revocation to reach n1");
    const err = await n1.ref<typeof Stepper>("a").ask({ type: "step", hops: [{ actor: "a", action: "after_revocation" }, { actor: "b", action: "downstream" }] }).catch((e: unknown) => e);
    expect(hasCode(err, "ERR_ECT_KEY_REVOKED")).toBe(true);
  });

  it("refuses an action past its quota before it runs, and records the refusal as an ECT", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, profile("relaxed", { quotas: [{ scope: "agent", unit: "actions", limit: 2 }] }));
    const log: string[] = [];
    await node.spawn("worker", Stepper, { args: [log] });
    const ref = node.ref<typeof Stepper>("worker");
    await ref.ask({ type: "step", hops: [{ actor: "worker", action: "one" }] });
    await ref.ask({ type: "step", hops: [{ actor: "worker", action: "two" }] });
    const err = await ref.ask({ type: "step", hops: [{ actor: "worker", action: "three" }] }).catch((e: unknown) => e);
    expect(hasCode(err, "ERR_QUOTA_EXCEEDED")).toBe(true);
    expect(log).toEqual(["one", "two"]); // the refused action had no effect
    const refused = [];
    for await (const r of node.assurance.store.all()) if (r.exec_act === "three") refused.push(decodeEctUnverified(r.token).claims);
    expect(refused).toHaveLength(1);
    expect((refused[0]?.["ext"] as Record<string, unknown>)["dev.tether.outcome"]).toBe("refused");
  });

  it("meters an action's messages, bytes and reported units into its ECT", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, profile("relaxed"));
    await node.spawn("m", Stepper);
    const r = await node.ref<typeof Stepper>("m").ask({ type: "step", hops: [{ actor: "m", action: "think" }], units: 1234 });
    const [t] = await workflowTokens(node, r.wid as string);
    const usage = (t?.claims["ext"] as Record<string, Record<string, unknown>>)["dev.tether.usage"];
    expect(usage).toMatchObject({ units: { tokens: 1234 } });
    expect(typeof usage?.["wallMs"]).toBe("number");
    expect(typeof usage?.["cpuUs"]).toBe("number");
  });
});
