import { describe, expect, it } from "vitest";
import { MsgHdrsImpl, headers } from "@nats-io/transport-node";
import { encodedHeaders, headerLine, parseHeaderBlock, readInboundMeta } from "../../runtime/internal.ts";

const enc = new TextEncoder();
/** nats.js calls encode() on any headers object it publishes; the public MsgHdrs type does not list it. */
const bytesOf = (h: unknown): Uint8Array => (h as { encode(): Uint8Array }).encode();

describe("parseHeaderBlock", () => {
  // the contract: the fast parser reads exactly what nats.js's own decoder (MsgHdrsImpl.decode) reads
  const blocks = [
    "NATS/1.0\r\ntether-kind: ask\r\ntether-id: abc\r\ntether-from: node:n1\r\ntether-type: rx.fill\r\n\r\n",
    "NATS/1.0\r\ntether-kind: tell\r\ntether-prio: 1\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: a=b\r\n\r\n",
    "NATS/1.0\r\nexecution-context: a.b.c\r\ntether-receipt: 12.xyz\r\n\r\n",
    "NATS/1.0\r\nEXECUTION-CONTEXT: x\r\nExecution-Context: y\r\n\r\n",
    "NATS/1.0\r\ntether-kind:   ask   \r\ntether-kind: tell\r\n\r\n",
    "NATS/1.0 503\r\n\r\n",
    "NATS/1.0 408 Request Timeout\r\ntether-kind: error\r\n\r\n",
    "NATS/1.0\r\ntether-from: n\u00e9ud\r\nno colon line\r\n: empty key\r\ntether-id:\r\n\r\n",
    "NATS/1.0\r\n\r\n",
  ];
  it.each(blocks)("reads %j as nats.js does", (block) => {
    const bytes = enc.encode(block);
    expect(parseHeaderBlock(bytes)).toEqual(readInboundMeta(MsgHdrsImpl.decode(bytes)));
  });

  it("reads back what encodedHeaders writes", () => {
    const h = encodedHeaders(headerLine("tether-kind", "ask") + headerLine("tether-id", "m1") + headerLine("Execution-Context", "t.o.k"));
    const meta = parseHeaderBlock(bytesOf(h));
    expect(meta).toMatchObject({ kind: "ask", id: "m1", executionContext: "t.o.k" });
    const viaNats = headers();
    viaNats.set("tether-kind", "ask");
    viaNats.set("tether-id", "m1");
    viaNats.set("Execution-Context", "t.o.k");
    expect(bytesOf(h)).toEqual(bytesOf(viaNats)); // byte-for-byte what the client itself would send
  });
});
