import { describe, expect, it } from "vitest";
import { ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { extractTraceContext, injectTraceContext } from "../../runtime/index.ts";

const carrier = () => {
  const m = new Map<string, string>();
  return { get: (k: string) => m.get(k) ?? "", set: (k: string, v: string) => void m.set(k, v), m };
};

describe("trace context propagation", () => {
  it("writes a W3C traceparent and reads the same span context back", () => {
    const sc = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
    const h = carrier();
    injectTraceContext(trace.setSpanContext(ROOT_CONTEXT, sc), h);
    expect(h.m.get("traceparent")).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const back = extractTraceContext(h);
    expect(back && trace.getSpanContext(back)).toMatchObject({ ...sc, isRemote: true });
  });

  it.each(["", "garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-zz-01"])(
    "ignores an invalid traceparent %j",
    (value) => {
      const h = carrier();
      h.set("traceparent", value);
      expect(extractTraceContext(h)).toBeUndefined();
    },
  );
});
