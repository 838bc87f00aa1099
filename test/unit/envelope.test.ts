import { describe, expect, it } from "vitest";
import { z } from "zod";
import { decodeBody, encodeBody, errorFromWire, hasCode, isTetherError, messageTypeOf, TetherError } from "../../protocols/index.ts";
import { classifySchemaError } from "../../runtime/internal.ts";

describe("envelope codec", () => {
  it("round-trips a message through msgpack", () => {
    const msg = { type: "rx.fill", doseMg: 250, tags: ["a"], raw: new Uint8Array([1, 2, 3]) };
    const back = decodeBody(encodeBody(msg)) as typeof msg;
    expect({ ...back, raw: [...back.raw] }).toEqual({ ...msg, raw: [1, 2, 3] });
    expect(back.raw).toBeInstanceOf(Uint8Array); // msgpackr gives a Buffer, which is a Uint8Array
  });

  it("turns undecodable bytes into ERR_MESSAGE_MALFORMED instead of throwing something else", () => {
    let error: unknown;
    try {
      decodeBody(new Uint8Array([0xc1, 0xff, 0x00, 0x12]));
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_MESSAGE_MALFORMED")).toBe(true);
  });

  it("reads the type of a message only when it is a string", () => {
    expect(messageTypeOf({ type: "x" })).toBe("x");
    expect(messageTypeOf({ type: 3 })).toBeUndefined();
    expect(messageTypeOf(null)).toBeUndefined();
  });
});

describe("TetherError", () => {
  it("is recognised by brand, carries retryable and cause, and survives the wire", () => {
    const cause = new Error("root");
    const e = new TetherError("ERR_MAILBOX_FULL", "full", { cause, details: { capacity: 3 } });
    expect(isTetherError(e)).toBe(true);
    expect(isTetherError(new Error("x"))).toBe(false);
    expect(e.retryable).toBe(true);
    expect(e.cause).toBe(cause);
    const back = errorFromWire(JSON.parse(JSON.stringify(e)) as { code: string; message: string });
    expect(back.code).toBe("ERR_MAILBOX_FULL");
    expect(back.details).toEqual({ capacity: 3 });
  });

  it("maps an unknown wire code to ERR_TRANSPORT_FAILED and keeps the original", () => {
    const e = errorFromWire({ code: "ERR_FROM_THE_FUTURE", message: "?" });
    expect(e.code).toBe("ERR_TRANSPORT_FAILED");
    expect(e.details["remoteCode"]).toBe("ERR_FROM_THE_FUTURE");
  });
});

describe("classifySchemaError", () => {
  const Msg = z.discriminatedUnion("type", [z.strictObject({ type: z.literal("a"), n: z.number() }), z.strictObject({ type: z.literal("b") })]);

  it("reports a type the actor does not accept as ERR_MESSAGE_UNKNOWN_TYPE", () => {
    const r = Msg.safeParse({ type: "zzz" });
    expect(r.success).toBe(false);
    if (!r.success) expect(classifySchemaError("x", "zzz", r.error).code).toBe("ERR_MESSAGE_UNKNOWN_TYPE");
  });

  it("reports a bad field as ERR_MESSAGE_INVALID naming the field", () => {
    const r = Msg.safeParse({ type: "a", n: "nope" });
    expect(r.success).toBe(false);
    if (!r.success) {
      const e = classifySchemaError("x", "a", r.error);
      expect(e.code).toBe("ERR_MESSAGE_INVALID");
      expect(e.message).toMatch(/n:/);
    }
  });
});
