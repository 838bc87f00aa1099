import { describe, expect, it } from "vitest";
import { MsgHdrsImpl, headers } from "@nats-io/transport-node";
import { encodedHeaders, headerLine, readWireHeaders } from "../../runtime/internal.ts";

const enc = new TextEncoder();
/** nats.js calls encode() on any headers object it publishes; the public MsgHdrs type does not list it. */
const bytesOf = (h: unknown): Uint8Array => (h as { encode(): Uint8Array }).encode();

describe("readWireHeaders", () => {
  it("reads nothing from a message without a header block (the common case)", () => {
    expect(readWireHeaders(undefined)).toEqual({ status: 0, traceparent: undefined, tracestate: undefined, executionContext: undefined, receipt: undefined, binding: undefined });
  });

  it.each([
    ["trace context", "NATS/1.0\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: a=b\r\n\r\n", {
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "a=b",
    }],
    ["the ECT in any case, the first value winning", "NATS/1.0\r\nEXECUTION-CONTEXT: x\r\nExecution-Context: y\r\ntether-receipt: 12.xyz\r\n\r\n", {
      executionContext: "x",
      receipt: "12.xyz",
    }],
    ["the message binding", "NATS/1.0\r\nExecution-Context: t.o.k\r\nExecution-Context-Binding: h..s\r\n\r\n", {
      executionContext: "t.o.k",
      binding: "h..s",
    }],
    ["a no-responders status", "NATS/1.0 503\r\n\r\n", { status: 503 }],
    ["empty values as absent, unknown keys ignored", "NATS/1.0\r\nExecution-Context:\r\nx-other: 1\r\n\r\n", { executionContext: undefined }],
  ])("reads %s from what nats.js decodes", (_what, block, expected) => {
    expect(readWireHeaders(MsgHdrsImpl.decode(enc.encode(block)))).toMatchObject(expected);
  });

  it("reads back what encodedHeaders writes, byte for byte what the client itself would send", () => {
    const h = encodedHeaders(headerLine("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") + headerLine("Execution-Context", "t.o.k"));
    expect(readWireHeaders(MsgHdrsImpl.decode(bytesOf(h)))).toMatchObject({ executionContext: "t.o.k", traceparent: expect.stringMatching(/^00-/) });
    const viaNats = headers();
    viaNats.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    viaNats.set("Execution-Context", "t.o.k");
    expect(bytesOf(h)).toEqual(bytesOf(viaNats));
  });
});
