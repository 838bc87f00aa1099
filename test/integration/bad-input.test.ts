import { describe, expect, it } from "vitest";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { pack } from "msgpackr";
import { ErrorReply, HeaderNames, decodeBody, hasCode, type ErrorCode } from "../../protocols/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, readDeadLetters, startNode, startServer } from "../support/nats.ts";

/** Sends raw bytes to an actor subject the way a buggy or hostile client would, and reads the error reply. */
const rawAsk = async (nc: NatsConnection, subject: string, data: Uint8Array, kind: string | null): Promise<ErrorReply> => {
  const h = headers();
  if (kind !== null) h.set(HeaderNames.kind, kind);
  h.set(HeaderNames.id, `raw${Math.floor(Math.random() * 1e9)}`);
  const reply = await nc.request(subject, data, { headers: h, timeout: 5_000 });
  expect(reply.headers?.get(HeaderNames.kind), `reply to ${subject}`).toBe("error");
  return ErrorReply.parse(decodeBody(reply.data));
};

describe("malformed, oversize and unknown input", () => {
  it("answers each bad message with a typed error, dead-letters it, and keeps serving", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { maxPayloadBytes: 4096 });
    const ref = await node.spawn("target", Counter);
    const subject = node.subjects.actor("target");
    const nc = await connect({ servers: server.url });
    try {
      const cases: [string, Uint8Array, string | null, ErrorCode][] = [
        ["not msgpack", new Uint8Array([0xc1, 0xc1, 0xc1]), "ask", "ERR_MESSAGE_MALFORMED"],
        ["no kind header", pack({ type: "get" }), null, "ERR_MESSAGE_MALFORMED"],
        ["unknown kind", pack({ type: "get" }), "bogus", "ERR_MESSAGE_MALFORMED"],
        ["unknown type", pack({ type: "launch-missiles" }), "ask", "ERR_MESSAGE_UNKNOWN_TYPE"],
        ["schema violation", pack({ type: "add", n: "many" }), "ask", "ERR_MESSAGE_INVALID"],
        ["extra field (strict schema)", pack({ type: "get", sneaky: true }), "ask", "ERR_MESSAGE_INVALID"],
        ["not an object", pack("hello"), "ask", "ERR_MESSAGE_INVALID"],
        ["oversize", pack({ type: "add", n: 1, pad: "x".repeat(10_000) }), "ask", "ERR_MESSAGE_TOO_LARGE"],
      ];
      for (const [what, data, kind, code] of cases) {
        const reply = await rawAsk(nc, subject, data, kind).catch((e: unknown) => {
          throw new Error(`case ${what}: ${String(e)}`);
        });
        expect({ what, code: reply.code }).toEqual({ what, code });
      }
      expect(await ref.ask({ type: "add", n: 1 })).toBe(1);
      await node.flushDeadLetters();
      const letters = await readDeadLetters(server.url);
      expect(letters.map((l) => l.code)).toEqual(cases.map((c) => c[3]));
      expect(letters.every((l) => l.target === "target" && l.node === node.id)).toBe(true);
      expect(letters.find((l) => l.code === "ERR_MESSAGE_TOO_LARGE")?.size).toBeGreaterThan(10_000);
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
