import { describe, expect, it } from "vitest";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { pack } from "msgpackr";
import { encodeSend, hasCode, type ErrorCode, type ErrorReply } from "../../protocols/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, readDeadLetters, startNode, startServer } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";

/** Sends raw bytes to an actor subject the way a buggy or hostile client would, and reads the error reply. */
const rawAsk = async (nc: NatsConnection, subject: string, data: Uint8Array): Promise<ErrorReply> => {
  const reply = await nc.request(subject, data, { timeout: 5_000 });
  expect(reply.headers, `reply to ${subject} carries no headers`).toBeUndefined();
  const answer = readAnswer(reply.data);
  if (answer.ok) throw new Error(`expected an error reply, got ${JSON.stringify(answer.value)}`);
  return answer.error;
};
/** An ask envelope around any body. */
const ask = (body: unknown): Uint8Array => encodeSend("ask", `raw${Math.floor(Math.random() * 1e9)}`, "raw-client", false, body);

describe("malformed, oversize and unknown input", () => {
  it("answers each bad message with a typed error, dead-letters it, and keeps serving", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { maxPayloadBytes: 4096 });
    const ref = await node.spawn("target", Counter);
    const subject = node.subjects.actor("target");
    const nc = await connect({ servers: server.url });
    try {
      const cases: [string, Uint8Array, ErrorCode][] = [
        ["not msgpack", new Uint8Array([0xc1, 0xc1, 0xc1]), "ERR_MESSAGE_MALFORMED"],
        ["empty body", new Uint8Array(0), "ERR_MESSAGE_MALFORMED"],
        ["a bare message, no envelope", pack({ type: "get" }), "ERR_MESSAGE_MALFORMED"],
        ["unknown kind", pack([1, 99, "id1", "raw", 0, { type: "get" }]), "ERR_MESSAGE_MALFORMED"],
        ["a reply envelope sent to an actor", pack([1, 4, { type: "get" }]), "ERR_MESSAGE_MALFORMED"],
        ["send envelope of the wrong length", pack([1, 2, "id1", "raw", { type: "get" }]), "ERR_MESSAGE_MALFORMED"],
        ["id that is not a string", pack([1, 2, 7, "raw", 0, { type: "get" }]), "ERR_MESSAGE_MALFORMED"],
        ["unknown envelope version", pack([2, 2, "id1", "raw", 0, { type: "get" }]), "ERR_MESSAGE_VERSION_UNSUPPORTED"],
        ["unknown type", ask({ type: "launch-missiles" }), "ERR_MESSAGE_UNKNOWN_TYPE"],
        ["schema violation", ask({ type: "add", n: "many" }), "ERR_MESSAGE_INVALID"],
        ["extra field (strict schema)", ask({ type: "get", sneaky: true }), "ERR_MESSAGE_INVALID"],
        ["not an object", ask("hello"), "ERR_MESSAGE_INVALID"],
        ["oversize", ask({ type: "add", n: 1, pad: "x".repeat(10_000) }), "ERR_MESSAGE_TOO_LARGE"],
      ];
      for (const [what, data, code] of cases) {
        const reply = await rawAsk(nc, subject, data).catch((e: unknown) => {
          throw new Error(`case ${what}: ${String(e)}`);
        });
        expect({ what, code: reply.code }).toEqual({ what, code });
      }
      expect(await ref.ask({ type: "add", n: 1 })).toBe(1);
      await node.flushDeadLetters();
      const letters = await readDeadLetters(server.url);
      expect(letters.map((l) => l.code)).toEqual(cases.map((c) => c[2]));
      expect(letters.every((l) => l.target === "target" && l.node === node.id)).toBe(true);
      expect(letters.find((l) => l.code === "ERR_MESSAGE_TOO_LARGE")?.size).toBeGreaterThan(10_000);
    } finally {
      await nc.close();
    }
  });

  it("drops hostile messages on the reply inbox (status notices, forged credits and reports, garbage) and keeps answering", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await b.spawn("far", Counter);
    const nc = await connect({ servers: server.url });
    try {
      const inbox = a.subjects.replyPrefix(a.id);
      const status503 = headers(503, "No Responders");
      const hostile: [string, Uint8Array, ReturnType<typeof headers> | undefined][] = [
        [`${inbox}x.bad.target`, new Uint8Array(0), status503],
        [`${inbox}t.far`, new Uint8Array(0), status503],
        [`${inbox}t.bad!target`, pack([1, 6, 5]), undefined],
        [`${inbox}t.far`, pack([1, 6, 1_000_000]), undefined],
        [`${inbox}t.far`, pack([1, 6, -3]), undefined],
        [`${inbox}t.far`, pack([1, 5, "not an error reply", 7]), undefined],
        [`${inbox}t.far`, pack([9, 6, 1]), undefined],
        [`${inbox}someid`, new Uint8Array([0xc1, 0xc1]), undefined],
        [`${inbox}someid`, pack([1, 4, "late"]), undefined],
        [`${inbox}someid.x`, pack([1, 2, "id", "x", 0, {}]), headers(408, "Timeout")],
      ];
      for (const [subject, data, h] of hostile) nc.publish(subject, data, h === undefined ? {} : { headers: h });
      await nc.flush();
      expect(await a.ref<typeof Counter>("far").ask({ type: "add", n: 2 })).toBe(2);
      a.ref<typeof Counter>("far").tell({ type: "add", n: 1 });
      await eventually(async () => (await a.ref<typeof Counter>("far").ask({ type: "get" })) === 3);
    } finally {
      await nc.close();
    }
  });

  it("refuses to send a message larger than maxPayloadBytes with ERR_MESSAGE_TOO_LARGE", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url, { maxPayloadBytes: 1024 });
    await using b = await startNode(server.url);
    await b.spawn("far", Counter);
    const big = { type: "add", n: 1, pad: "y".repeat(5_000) } as unknown as { type: "add"; n: number };
    expect(() => a.ref<typeof Counter>("far").tell(big)).toThrow(expect.objectContaining({ code: "ERR_MESSAGE_TOO_LARGE" }));
    await expect(a.ref<typeof Counter>("far").ask(big)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_MESSAGE_TOO_LARGE"));
  });

  it("reports a remote tell that fails validation back to the sender as undeliverable", async () => {
    await using server = await startServer();
    await using a = await startNode(server.url);
    await using b = await startNode(server.url);
    await b.spawn("strict", Counter);
    const seen: string[] = [];
    a.onEvent((e) => e.type === "undeliverable" && seen.push(String(e.code)));
    a.ref("strict").tell({ type: "nope" });
    await eventually(() => seen.length === 1);
    expect(seen).toEqual(["ERR_MESSAGE_UNKNOWN_TYPE"]);
  });

  it("rejects an invalid local send synchronously with the schema's error", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("local", Counter);
    expect(() => node.ref("local").tell({ type: "add", n: 0.5 })).toThrow(expect.objectContaining({ code: "ERR_MESSAGE_INVALID" }));
    await expect(node.ref("local").ask({ nope: 1 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_MESSAGE_INVALID"));
  });

  it("refuses to spawn a class without a zod protocol or handle method", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    class NoProtocol {
      handle() {}
    }
    await expect(node.spawn("x", NoProtocol as never)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_CLASS_INVALID"));
    await expect(node.spawn("bad.id", Counter)).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ADDRESS_INVALID"));
  });
});
