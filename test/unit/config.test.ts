import { describe, expect, it } from "vitest";
import { resolveNodeOptions } from "../../runtime/index.ts";
import { hasCode } from "../../protocols/index.ts";

describe("resolveNodeOptions", () => {
  it("fills in the documented defaults", () => {
    const o = resolveNodeOptions({});
    expect(o).toMatchObject({
      network: "default",
      servers: [],
      mailboxCapacity: 1024,
      priorityCapacity: 256,
      askTimeoutMs: 5000,
      maxPayloadBytes: 1024 * 1024,
      heartbeatMs: 1000,
      leaseTtlMs: 5000,
      reconnectTimeWaitMs: 250,
      jetstreamReplicas: 1,
    });
    expect(o.nodeId).toBeUndefined();
  });

  it("lists every problem in one ERR_CONFIG_INVALID", () => {
    let error: unknown;
    try {
      resolveNodeOptions({ network: "a.b", mailboxCapacity: -1, bogus: true });
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, "ERR_CONFIG_INVALID")).toBe(true);
    const message = (error as Error).message;
    expect(message).toMatch(/network/);
    expect(message).toMatch(/mailboxCapacity/);
    expect(message).toMatch(/bogus/);
  });

  it("refuses a lease shorter than the heartbeat", () => {
    expect(() => resolveNodeOptions({ heartbeatMs: 1000, leaseTtlMs: 500 })).toThrow(/leaseTtlMs/);
  });
});
