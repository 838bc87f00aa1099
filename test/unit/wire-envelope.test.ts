import { describe, expect, it } from "vitest";
import { pack, unpack } from "msgpackr";
import { ENVELOPE_VERSION, decodeEnvelope, encodeCredit, encodeError, encodeReply, encodeSend, hasCode } from "../../protocols/index.ts";

const codeOf = (bytes: Uint8Array): string | undefined => {
  try {
    decodeEnvelope(bytes);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe("wire envelope", () => {
  it("is one msgpack array with the version first", () => {
    const raw = unpack(encodeSend("tell", "id1", "node:n1", false, { type: "x" })) as unknown[];
    expect(raw).toEqual([ENVELOPE_VERSION, 1, "id1", "node:n1", 0, { type: "x" }]);
  });

  it("round-trips sends, replies, errors and credits", () => {
    const payload = new Uint8Array([1, 2, 3]);
    const send = decodeEnvelope(encodeSend("ask", "id2", "alice", true, { type: "ping", payload }));
    expect(send).toMatchObject({ kind: "ask", id: "id2", from: "alice", priority: true });
    expect((send as { body: { payload: Uint8Array } }).body.payload).toBeInstanceOf(Uint8Array);
    expect(decodeEnvelope(encodeSend("compensate", "id3", "", false, 1))).toMatchObject({ kind: "compensate", from: undefined, priority: false });
    expect(decodeEnvelope(encodeReply(42))).toEqual({ kind: "reply", body: 42 });
    expect(decodeEnvelope(encodeError({ code: "ERR_MAILBOX_FULL" }))).toEqual({ kind: "error", body: { code: "ERR_MAILBOX_FULL" }, id: undefined });
    expect(decodeEnvelope(encodeError({ code: "ERR_MAILBOX_FULL" }, "t1"))).toMatchObject({ kind: "error", id: "t1" });
    expect(decodeEnvelope(encodeCredit(32))).toEqual({ kind: "credit", n: 32 });
  });

  it("keeps an error reply's code readable in the bytes", () => {
    expect(Buffer.from(encodeError({ code: "ERR_MAILBOX_FULL", message: "full", retryable: true })).toString("latin1")).toContain("ERR_MAILBOX_FULL");
  });

  it("refuses a version it does not read with ERR_MESSAGE_VERSION_UNSUPPORTED", () => {
    let error: unknown;
    try {
      decodeEnvelope(pack([2, 1, "id", "x", 0, {}]));
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_MESSAGE_VERSION_UNSUPPORTED")).toBe(true);
    expect(String((error as Error).message)).toMatch(/version 2 is not supported/);
  });

  it.each([
    ["empty", new Uint8Array(0)],
    ["not msgpack", new Uint8Array([0xc1])],
    ["a bare object", pack({ type: "x" })],
    ["a short array", pack([1, 1])],
    ["a version that is not a number", pack(["1", 1, "id", "x", 0, {}])],
    ["an unknown kind", pack([1, 9, "id", "x", 0, {}])],
    ["an empty id", pack([1, 1, "", "x", 0, {}])],
    ["an oversized id", pack([1, 1, "i".repeat(129), "x", 0, {}])],
    ["an oversized sender", pack([1, 1, "id", "f".repeat(257), 0, {}])],
    ["negative flags", pack([1, 1, "id", "x", -1, {}])],
    ["a send with extra elements", pack([1, 1, "id", "x", 0, {}, "extra"])],
    ["a zero credit", pack([1, 6, 0])],
    ["a fractional credit", pack([1, 6, 1.5])],
    ["an error with a numeric id", pack([1, 5, {}, 3])],
  ])("refuses %s with ERR_MESSAGE_MALFORMED", (_what, bytes) => {
    expect(codeOf(bytes)).toBe("ERR_MESSAGE_MALFORMED");
  });
});
