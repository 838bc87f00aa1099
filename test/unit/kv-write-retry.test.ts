import { errors } from "@nats-io/transport-node";
import { jserrors } from "@nats-io/jetstream/internal";
import type { KV } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { withWriteRetry } from "../../runtime/internal.ts";

/** What nats.js throws for a JetStream publish that nobody received (its `_publish`). */
const unreceived = (): Error =>
  new jserrors.JetStreamNotEnabled("jetstream is not enabled", {
    cause: new errors.RequestError("no responders", { cause: new errors.NoRespondersError("$KV.b.k") }),
  });

/** A KV whose writes fail with `failures` (in order) before they succeed. */
const fakeKv = (failures: Error[]): { kv: KV; calls: string[] } => {
  const calls: string[] = [];
  const kv = {
    bucket: "b",
    async put(key: string): Promise<number> {
      calls.push(`put ${key}`);
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      return calls.length;
    },
    async get(key: string): Promise<string> {
      calls.push(`get ${key}`);
      return "value";
    },
  };
  return { kv: kv as unknown as KV, calls };
};

describe("withWriteRetry", () => {
  it("sends a write again while nobody received it, and returns what the write returned", async () => {
    const { kv, calls } = fakeKv([unreceived(), unreceived()]);
    const retried = withWriteRetry(kv, { deadlineMs: 2_000 });
    expect(await retried.put("k", new Uint8Array())).toBe(3);
    expect(calls).toEqual(["put k", "put k", "put k"]);
    expect(await retried.get("k")).toBe("value");
    expect((retried as unknown as { bucket: string }).bucket).toBe("b");
  });

  it("fails at once on any other error: a timeout may have been stored, so it is not sent again", async () => {
    const { kv, calls } = fakeKv([new errors.TimeoutError()]);
    await expect(withWriteRetry(kv).put("k", new Uint8Array())).rejects.toThrow(errors.TimeoutError);
    expect(calls).toEqual(["put k"]);
  });

  it("gives up with the original error at the deadline", async () => {
    const { kv, calls } = fakeKv(Array.from({ length: 100 }, unreceived));
    await expect(withWriteRetry(kv, { deadlineMs: 200 }).put("k", new Uint8Array())).rejects.toThrow(/jetstream is not enabled/);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.length).toBeLessThan(10);
  });
});
