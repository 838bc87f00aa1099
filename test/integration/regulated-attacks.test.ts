import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, headers, type Msg } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { z } from "zod";
import { Actor, AuditLedger, createAuditLedgerDeps } from "../../actors/index.ts";
import {
  HeaderNames,
  decodeEctUnverified,
  decodeEnvelope,
  encodeSend,
  mintUnsignedEct,
  parseRecord,
  receiptTokenHash,
  signReceipt,
  type SigningKey,
} from "../../protocols/index.ts";
import { LedgerStream, type ActorContext, type Node, type NodeOptionsInput } from "../../runtime/index.ts";
import { OrderBook } from "../fixtures/durable-agents.ts";
import { Stepper } from "../support/chain-actors.ts";
import { eventually, readDeadLetters, startNode, startServer } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";

const keyDir = mkdtempSync(join(tmpdir(), "tether-regulated-keys-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const regulated: NodeOptionsInput = { assurance: { profile: "regulated", keyDir } as NodeOptionsInput["assurance"] };

const startLedger = async (url: string): Promise<Node> => {
  const node = await startNode(url, regulated);
  await node.spawn("audit", AuditLedger, { args: [await createAuditLedgerDeps(node, { keyDir, checkpointEvery: 4 })] });
  return node;
};

const violations = async (node: Node) =>
  (await LedgerStream.readAll(node.nats, node.subjects))
    .map((r) => parseRecord(r))
    .flatMap((r) => (r.kind === "event" && r.body.event === "violation" ? [r.body.details] : []));

describe("a regulated node attacked with a plain NATS client", () => {
  it("refuses messages without a token or with an unsigned one before the actor sees them, and records each refusal", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url);
    await using node = await startNode(server.url, regulated);
    const seen: string[] = [];
    await node.spawn("intake", Stepper, { args: [seen] });
    const nc = await connect({ servers: server.url });
    try {
      const send = async (id: string, token?: string): Promise<string> => {
        const h = headers();
        if (token !== undefined) h.set(HeaderNames.executionContext, token);
        const data = encodeSend("ask", id, "raw-client", false, { type: "seq", n: 1 });
        const reply = await nc.request(node.subjects.actor("intake"), data, { timeout: 5_000, ...(token === undefined ? {} : { headers: h }) });
        const answer = readAnswer(reply.data);
        return answer.ok ? "ok" : answer.error.code;
      };
      expect(await send("no-header")).toBe("ERR_ECT_MISSING");
      const unsigned = mintUnsignedEct({ iss: "tether://default/agent/x", aud: ["tether://default"], exec_act: "probe", par: [] });
      expect(await send("unsigned", unsigned)).toBe("ERR_ECT_LEVEL_TOO_LOW");
      expect(seen).toEqual([]); // the actor never saw either

      // a tell without a token is refused too (its rejection report, not silence)
      nc.publish(node.subjects.actor("intake"), encodeSend("tell", "tell-no-header", "raw-client", false, { type: "seq", n: 2 }));

      await eventually(async () => (await violations(ledger)).length >= 3, 5_000, "violation records");
      const records = await violations(ledger);
      expect(records.map((d) => d["code"]).sort()).toEqual(["ERR_ECT_LEVEL_TOO_LOW", "ERR_ECT_MISSING", "ERR_ECT_MISSING"]);
      expect(records.find((d) => d["messageId"] === "no-header")).toMatchObject({ source: "message", node: node.id });
      expect(seen).toEqual([]);

      // the genuine flow still works end to end
      const result = await node.ref<typeof Stepper>("intake").ask({ type: "step", hops: [{ actor: "intake", action: "review_requirements_spec" }] });
      expect(result.actions).toEqual(["review_requirements_spec"]);
    } finally {
      await nc.close();
    }
  });

  it("refuses a made-up receipt, the genuine receipt of another token, and a captured token with a new id, body or target; records each", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url);
    await using a = await startNode(server.url, regulated);
    await using b = await startNode(server.url, regulated);
    const seen: string[] = [];
    const otherSeen: string[] = [];
    await a.spawn("front", Stepper);
    await b.spawn("intake", Stepper, { args: [seen] });
    await b.spawn("other", Stepper, { args: [otherSeen] });
    const nc = await connect({ servers: server.url });
    try {
      // the attacker listens on the target's subject and captures two genuine messages
      const captured: Msg[] = [];
      const sub = nc.subscribe(b.subjects.actor("intake"), { callback: (_e, m) => void captured.push(m) });
      await nc.flush();
      const flow = (action: string) => a.ref<typeof Stepper>("front").ask({ type: "step", hops: [{ actor: "front", action: "prepare" }, { actor: "intake", action }] });
      expect((await flow("first")).actions).toEqual(["prepare", "first"]);
      expect((await flow("second")).actions).toEqual(["prepare", "second"]);
      await eventually(() => captured.length >= 2, 5_000, "two captured messages");
      sub.unsubscribe();
      const [one, two] = captured as [Msg, Msg];
      const header = (m: Msg, name: string) => m.headers?.get(name) ?? "";
      expect(header(one, HeaderNames.receipt).split(".")).toHaveLength(3); // a compact JWS, not index.hash
      expect(header(one, HeaderNames.binding)).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
      expect(header(one, HeaderNames.executionContext)).not.toBe(header(two, HeaderNames.executionContext));
      expect(seen).toEqual(["first", "second"]);

      const original = decodeEnvelope(one.data) as { id: string; from: string; body: unknown };
      const send = async (subject: string, data: Uint8Array, set: Record<string, string | undefined>): Promise<string> => {
        const h = headers();
        for (const name of [HeaderNames.executionContext, HeaderNames.receipt, HeaderNames.binding]) {
          const value = name in set ? set[name] : header(one, name);
          if (value !== undefined) h.set(name, value);
        }
        const reply = await nc.request(subject, data, { timeout: 5_000, headers: h });
        const answer = readAnswer(reply.data);
        return answer.ok ? "ok" : answer.error.code;
      };
      const intake = b.subjects.actor("intake");
      // a node of the network (not the ledger) signs a well-formed receipt for this very token
      const token = header(one, HeaderNames.executionContext);
      const nodeKey = a.assurance.signingKey as SigningKey;
      const claims = { net: "default", idx: 0, hash: "A".repeat(43), jti: String(decodeEctUnverified(token).claims.jti), th: receiptTokenHash(token), iat: 1 };
      const byNode = signReceipt(claims, { kid: nodeKey.kid, alg: nodeKey.alg, key: nodeKey.privateKey });
      const attacks: [string, () => Promise<string>, string][] = [
        ["made-up receipt", () => send(intake, one.data, { [HeaderNames.receipt]: `999.${"A".repeat(43)}` }), "ERR_RECEIPT_INVALID"],
        ["genuine receipt of another token", () => send(intake, one.data, { [HeaderNames.receipt]: header(two, HeaderNames.receipt) }), "ERR_RECEIPT_INVALID"],
        ["receipt for this token signed by a node key, not the ledger's", () => send(intake, one.data, { [HeaderNames.receipt]: byNode }), "ERR_RECEIPT_INVALID"],
        ["captured token, new message id", () => send(intake, encodeSend("ask", "new-id", original.from, false, original.body), {}), "ERR_ECT_BINDING_INVALID"],
        ["captured token, new body", () => send(intake, encodeSend("ask", original.id, original.from, false, { type: "seq", n: 666 }), {}), "ERR_ECT_BINDING_INVALID"],
        ["captured token, new target", () => send(b.subjects.actor("other"), one.data, {}), "ERR_ECT_BINDING_INVALID"],
        ["captured token, binding of another message", () => send(intake, encodeSend("ask", "id-2", original.from, false, original.body), { [HeaderNames.binding]: header(two, HeaderNames.binding) }), "ERR_ECT_BINDING_INVALID"],
        ["captured token, binding removed", () => send(intake, encodeSend("ask", "id-3", original.from, false, original.body), { [HeaderNames.binding]: undefined }), "ERR_ECT_BINDING_MISSING"],
        ["captured message resent as it was", () => send(intake, one.data, {}), "ERR_ECT_REPLAYED"],
      ];
      for (const [what, attack, code] of attacks) expect({ what, code: await attack() }).toEqual({ what, code });
      expect(seen).toEqual(["first", "second"]); // the actor saw none of them
      expect(otherSeen).toEqual([]);

      await eventually(async () => (await violations(ledger)).length >= attacks.length, 5_000, "violation records");
      const codes = (await violations(ledger)).map((d) => d["code"]);
      for (const [, , code] of attacks) expect(codes).toContain(code);
      const letters = await readDeadLetters(server.url);
      expect(letters.filter((l) => l.code === "ERR_RECEIPT_INVALID" || l.code.startsWith("ERR_ECT_BINDING"))).toHaveLength(attacks.length - 1);
    } finally {
      await nc.close();
    }
  });

  it("counts a receipt that does not verify as L2 below L3 (standard), and refuses it where L3 is required", async () => {
    await using server = await startServer();
    await using _ledger = await startLedger(server.url);
    await using a = await startNode(server.url, regulated);
    await using std = await startNode(server.url, { assurance: { profile: "standard", keyDir } as NodeOptionsInput["assurance"] });
    await a.spawn("front", Stepper);
    await std.spawn("intake", Stepper);
    const nc = await connect({ servers: server.url });
    try {
      const captured: Msg[] = [];
      const sub = nc.subscribe(std.subjects.actor("intake"), { callback: (_e, m) => void captured.push(m) });
      await nc.flush();
      await a.ref<typeof Stepper>("front").ask({ type: "step", hops: [{ actor: "front", action: "prepare" }, { actor: "intake", action: "on_standard" }] });
      await eventually(() => captured.length >= 1, 5_000, "a captured message");
      sub.unsubscribe();
      const one = captured[0] as Msg;
      const envelope = decodeEnvelope(one.data) as { from: string; body: unknown };
      // the standard node accepts a genuine message whose receipt is made up: the token counts as L2
      const data = encodeSend("ask", "fresh-id", envelope.from, false, { type: "seq", n: 1 });
      const token = one.headers?.get(HeaderNames.executionContext) ?? "";
      const jti = String(decodeEctUnverified(token).claims.jti);
      const h = headers();
      h.set(HeaderNames.executionContext, token);
      h.set(HeaderNames.receipt, `999.${"A".repeat(43)}`);
      h.set(HeaderNames.binding, a.assurance.bind({ token, jti, wid: undefined, level: "L3", receipt: undefined }, "fresh-id", "intake", data) ?? "");
      const answer = readAnswer((await nc.request(std.subjects.actor("intake"), data, { timeout: 5_000, headers: h })).data);
      expect(answer.ok).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it("gives the durable lane the same checks: a plain client's publish without a token, or with a captured one, is refused and dead-lettered", async () => {
    await using server = await startServer();
    await using ledger = await startLedger(server.url);
    await using a = await startNode(server.url, regulated);
    await using b = await startNode(server.url, regulated);
    await b.spawn("orders", OrderBook, { durable: true });
    await a.spawn("clerk", Clerk);
    // genuine: an action's durable send carries its token, receipt and binding, and is delivered
    await a.ref<typeof Clerk>("clerk").ask({ type: "place", n: 1 });
    const orders = async () => ((await b.ref<typeof OrderBook>("orders").ask({ type: "summary" }).catch(() => ({ orders: [] }))) as { orders: number[] }).orders;
    await eventually(async () => (await orders()).includes(1), 10_000, "the genuine durable order");

    const nc = await connect({ servers: server.url });
    try {
      const js = jetstream(nc);
      const subject = b.subjects.durable("orders");
      // capture a genuine live message's token, receipt and binding
      await b.spawn("intake", Stepper);
      const captured: Msg[] = [];
      const sub = nc.subscribe(b.subjects.actor("intake"), { callback: (_e, m) => void captured.push(m) });
      await nc.flush();
      await a.spawn("front", Stepper);
      await a.ref<typeof Stepper>("front").ask({ type: "step", hops: [{ actor: "front", action: "prepare" }, { actor: "intake", action: "seen" }] });
      await eventually(() => captured.length >= 1, 5_000, "a captured message");
      sub.unsubscribe();
      const one = captured[0] as Msg;
      const copy = (names: string[]) => {
        const h = headers();
        for (const name of names) {
          const v = one.headers?.get(name);
          if (v) h.set(name, v);
        }
        return h;
      };
      await js.publish(subject, encodeSend("tell", "no-token", "raw-client", false, { type: "order", n: 666 }), { msgID: "no-token" });
      await js.publish(subject, encodeSend("tell", "captured", "raw-client", false, { type: "order", n: 667 }), {
        msgID: "captured",
        headers: copy([HeaderNames.executionContext, HeaderNames.receipt, HeaderNames.binding]),
      });
      await js.publish(subject, encodeSend("tell", "unbound", "raw-client", false, { type: "order", n: 668 }), {
        msgID: "unbound",
        headers: copy([HeaderNames.executionContext, HeaderNames.receipt]),
      });
      await eventually(
        async () => {
          const ids = new Set((await readDeadLetters(server.url)).map((l) => l.messageId));
          return ["no-token", "captured", "unbound"].every((id) => ids.has(id));
        },
        10_000,
        "three durable dead letters",
      );
      const letters = (await readDeadLetters(server.url)).filter((l) => ["no-token", "captured", "unbound"].includes(l.messageId ?? ""));
      expect(Object.fromEntries(letters.map((l) => [l.messageId, l.code]))).toEqual({
        "no-token": "ERR_ECT_MISSING",
        captured: "ERR_ECT_BINDING_INVALID",
        unbound: "ERR_ECT_BINDING_MISSING",
      });
      expect(await orders()).toEqual([1]); // the actor never saw them
      await eventually(async () => (await violations(ledger)).some((d) => d["messageId"] === "captured"), 5_000, "violation records");
    } finally {
      await nc.close();
    }
  });
});

const ClerkMsg = z.strictObject({ type: z.literal("place"), n: z.number().int() });

/** Places an order on the durable lane from inside an action (so the send carries the action's token). */
class Clerk extends Actor<z.infer<typeof ClerkMsg>> {
  static override readonly protocol = ClerkMsg;

  async handle(msg: z.infer<typeof ClerkMsg>, ctx: ActorContext): Promise<void> {
    await ctx.act("place_order", { n: msg.n }, () => msg.n);
    await ctx.ref<typeof OrderBook>("orders").send({ type: "order", n: msg.n });
  }
}
