import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { Actor } from "../../actors/index.ts";
import { hasCode } from "../../protocols/index.ts";
import { GuardedCalls } from "../../supervisors/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const BigMsg = z.strictObject({ type: z.literal("big"), bytes: z.number().int() });
type BigMsg = z.infer<typeof BigMsg>;
class Big extends Actor<BigMsg> {
  static override readonly protocol = BigMsg;
  handle(msg: BigMsg): Uint8Array {
    return new Uint8Array(msg.bytes);
  }
}

describe("fixes from review", () => {
  it("answers with an error, and keeps running, when a reply exceeds the server's max_payload", async () => {
    await using server = await startServer();
    // the node allows more than the server does: the publish itself throws
    await using host = await startNode(server.url, { maxPayloadBytes: 4 * 1024 * 1024 });
    await using caller = await startNode(server.url);
    await host.spawn("big", Big);
    const err = await caller.ref<typeof Big>("big").ask({ type: "big", bytes: 1_500_000 }, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(hasCode(err, "ERR_MESSAGE_TOO_LARGE")).toBe(true);
    expect(((await caller.ref<typeof Big>("big").ask({ type: "big", bytes: 10 })) as Uint8Array).length).toBe(10); // still serving
  });

  it("validates spawn options before claiming the id, so a refused spawn leaves it free", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await expect(node.spawn("x", Counter, { passivateAfterMs: -5 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_CONFIG_INVALID"));
    expect((await node.listActors()).map((a) => a.actorId)).not.toContain("x");
    const ref = await node.spawn("x", Counter);
    expect(await ref.ask({ type: "get" })).toBe(0);
  });

  it("ignores a corrupted shared breaker value instead of crashing", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await node.spawn("t", Counter);
    await using guard = await GuardedCalls.open(node);
    guard.breaker("t");
    const nc = await connect({ servers: server.url });
    try {
      const kv = await new Kvm(nc).open(`tether_${node.network}_breakers`);
      await kv.put("b.t", new TextEncoder().encode("{not json"));
    } finally {
      await nc.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    await eventually(async () => (await guard.ask<typeof Counter>("t", { type: "get" })) === 0, 5_000, "still serving");
    expect(guard.breaker("t").state).toBe("closed");
  });
});
