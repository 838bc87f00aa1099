import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, headers } from "@nats-io/transport-node";
import { pack } from "msgpackr";
import { HeaderNames, encodeSend, isErrorCode } from "../../protocols/index.ts";
import { Stepper } from "../support/chain-actors.ts";
import { startNode, startServer } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-fuzz-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
const prng = (seed: number) => () => {
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

describe("envelope fuzzing", () => {
  it("answers 2,000 random and mutated envelopes (with and without tokens) with coded errors, and keeps serving", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { profile: "standard", keyDir }, maxPayloadBytes: 8192 });
    const ref = await node.spawn("target", Stepper);
    await using minter = await startNode(server.url, { assurance: { profile: "standard", keyDir } });
    await minter.spawn("m", Stepper);
    const run = await minter.ref<typeof Stepper>("m").ask({ type: "step", hops: [{ actor: "m", action: "seed" }] });
    let genuine = "";
    for await (const r of minter.assurance.store.all()) if (r.wid === run.wid) genuine = r.token;
    expect(genuine).not.toBe("");

    const rand = prng(20261123);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
    const mutate = (s: string) => {
      const chars = [...s];
      const k = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < k; i++) chars[Math.floor(rand() * chars.length)] = pick(["A", "_", "-", ".", "\u00e9", "0", "="]);
      return rand() < 0.2 ? chars.join("").slice(0, Math.floor(rand() * s.length)) : chars.join("");
    };
    const messages = [
      () => ({ type: pick(["seq", "step", "burst", "nope", ""]), n: pick([1, -1, 1.5, "x", null]) }),
      () => pick([null, 0, "str", [], {}, true, { type: "seq" }]),
      () => ({ type: "seq", n: 1 }),
    ];
    // whole bodies: random bytes, bare messages, broken envelopes, and well-formed envelopes of a kind
    const bodies = (kind: string, id: string) => [
      () => bytes(Math.floor(rand() * 64)),
      () => bytes(9000),
      () => pack(pick(messages)()),
      () => pack([pick([1, 2, 0, -1, "1", null]), pick([1, 2, 3, 4, 5, 6, 99, "ask"]), pick([id, "", 7, null]), pick(["x", 3]), pick([0, 1, -1, "p"]), pick(messages)()]),
      () => pack([1, pick([4, 5, 6]), pick(messages)()]),
      () => (kind === "" ? pack(pick(messages)()) : encodeSend(kind === "tell" ? "tell" : "ask", id, "fuzz", rand() < 0.2, pick(messages)())),
      () => (kind === "" ? pack(pick(messages)()) : encodeSend(kind === "tell" ? "tell" : "ask", id, "fuzz", false, { type: "seq", n: 1 })),
    ];
    const nc = await connect({ servers: server.url });
    const codes = new Map<string, number>();
    try {
      const subject = node.subjects.actor("target");
      const N = 2_000;
      for (let i = 0; i < N; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, j) => {
            const h = headers();
            const kind = pick(["ask", "ask", "ask", ""]); // every one of these gets a reply
            const tokenChoice = rand();
            if (tokenChoice < 0.5) h.set(HeaderNames.executionContext, mutate(genuine));
            else if (tokenChoice < 0.6) h.set(HeaderNames.executionContext, Buffer.from(bytes(40)).toString("base64url"));
            if (rand() < 0.1) h.set(HeaderNames.receipt, mutate("12.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"));
            if (rand() < 0.3) h.set(HeaderNames.binding, mutate(`${Buffer.from(JSON.stringify({ alg: "ES256", kid: "k", typ: "tether-binding+jws" })).toString("base64url")}..${"A".repeat(86)}`));
            const body = pick(bodies(kind, `fz${i + j}`))();
            const reply = await nc.request(subject, body, { headers: h, timeout: 10_000 }).catch((e: unknown) => e);
            if (reply instanceof Error) throw new Error(`envelope ${i + j} got no reply: ${reply.message}`);
            const answer = readAnswer((reply as { data: Uint8Array }).data);
            if (!answer.ok) {
              expect(isErrorCode(answer.error.code), answer.error.code).toBe(true);
              codes.set(answer.error.code, (codes.get(answer.error.code) ?? 0) + 1);
            } else codes.set("ok", (codes.get("ok") ?? 0) + 1);
          }),
        );
      }
      // tells expect no reply on success: fire 500 hostile ones without a reply subject; they must not hurt the node
      for (let i = 0; i < 500; i++) {
        const h = headers();
        if (rand() < 0.5) h.set(HeaderNames.executionContext, mutate(genuine));
        const body = pick(bodies("tell", `ft${i}`))();
        if (rand() < 0.5) nc.publish(subject, body, { headers: h });
        else nc.publish(subject, body);
      }
      await nc.flush();
      const total = [...codes.values()].reduce((a, b) => a + b, 0);
      expect(total).toBe(N);
      // mutated tokens must never pass: only token-less, well-formed asks can succeed
      expect(codes.get("ok") ?? 0).toBeLessThan(N * 0.1);
      expect([...codes.keys()].filter((c) => c.startsWith("ERR_ECT_")).length).toBeGreaterThanOrEqual(3);
    } finally {
      await nc.close();
    }
    expect(await ref.ask({ type: "seq", n: 42 })).toMatchObject({ actions: [] }); // still serving
  });
});
