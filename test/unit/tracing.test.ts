import { describe, expect, it } from "vitest";
import { propagation, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { extractTraceContext, injectTraceContext } from "../../runtime/index.ts";

const w3c = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

const carrier = () => {
  const m = new Map<string, string>();
  return { get: (k: string) => m.get(k) ?? "", set: (k: string, v: string) => void m.set(k, v), m };
};

describe("trace context propagation", () => {
  it("writes a W3C traceparent and reads the same span context back", () => {
    const sc = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
    const h = carrier();
    injectTraceContext(trace.setSpanContext(ROOT_CONTEXT, sc), h, w3c);
    expect(h.m.get("traceparent")).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const back = extractTraceContext(h, w3c);
    expect(back && trace.getSpanContext(back)).toMatchObject({ ...sc, isRemote: true });
  });

  it.each(["", "garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-zz-01"])(
    "ignores an invalid traceparent %j",
    (value) => {
      const h = carrier();
      h.set("traceparent", value);
      expect(extractTraceContext(h, w3c)).toBeUndefined();
    },
  );

  it("carries baggage with the trace context", () => {
    const sc = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
    const ctx = propagation.setBaggage(trace.setSpanContext(ROOT_CONTEXT, sc), propagation.createBaggage({ tenant: { value: "acme" } }));
    const h = carrier();
    injectTraceContext(ctx, h, w3c);
    expect(h.m.get("baggage")).toBe("tenant=acme");
    const back = extractTraceContext(h, w3c);
    expect(back && propagation.getBaggage(back)?.getEntry("tenant")?.value).toBe("acme");
  });

  it("uses the global propagator by default, which is a no-op until an SDK registers one", () => {
    const h = carrier();
    injectTraceContext(trace.setSpanContext(ROOT_CONTEXT, { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 }), h);
    expect(h.m.size).toBe(0);
  });
});
