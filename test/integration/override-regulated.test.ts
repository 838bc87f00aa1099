import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { OverrideClient } from "../../actors/index.ts";
import { ErrorReply, OVERRIDE_ACTOR_ID, decodeEnvelope, encodeSend, hasCode, type OverrideSignalBody } from "../../protocols/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { Worker, journal, keyDir, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

describe("the override plane on a regulated network (every other actor requires an ECT)", () => {
  it("takes an operator's signed stop without an execution context, and still refuses unsigned and under-privileged requests from a plain NATS client", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url, { assurance: { profile: "regulated", keyDir } });
    await startOversight(node);
    const { operator, observer } = await operatorKeys(node);
    const worker = await node.spawn("w-reg", Worker);

    const nc = await connect({ servers: server.url });
    try {
      const ask = async (actorId: string, body: unknown): Promise<string> => {
        const reply = await nc.request(node.subjects.actor(actorId), encodeSend("ask", `r${Date.now()}${Math.random()}`, "mallory", false, body), { timeout: 5_000 });
        const envelope = decodeEnvelope(reply.data);
        return envelope.kind === "error" ? ErrorReply.parse(envelope.body).code : "accepted";
      };
      // every other actor still requires an execution context
      expect(await ask("w-reg", { type: "work", seq: 1, ms: 0 })).toBe("ERR_ECT_MISSING");
      const signal: OverrideSignalBody = { type: "tether.override.v1.signal", id: "attack-1", action: "stop", scope: { kind: "agent", id: "w-reg" }, level: "emergency", reason: "attack", onLift: "release", ackDeadlineMs: 1_000 };
      expect(await ask(OVERRIDE_ACTOR_ID, { type: "tether.override.v1.issue", envelope: signal })).not.toBe("accepted");
      expect(await ask(OVERRIDE_ACTOR_ID, { type: "tether.override.v1.issue", envelope: await observer.sign({ ...signal, id: "attack-2" }, OVERRIDE_ACTOR_ID) })).toBe("ERR_CONTROL_FORBIDDEN");
      expect(node.overrides.active()).toEqual([]);
      expect(await worker.ask({ type: "work", seq: 2, ms: 0 })).toBe(2);
    } finally {
      await nc.close();
    }

    // the operator's stop goes through and is acknowledged
    const busy = worker.ask({ type: "work", seq: 3, ms: 60_000 });
    busy.catch(() => undefined);
    await eventually(() => journal.get("w-reg")?.handled.includes(3) === true, 5_000, "handler in flight");
    const stop = await new OverrideClient({ nc: node.nats, signer: operator }).issue({ action: "stop", scope: { kind: "agent", id: "w-reg" }, reason: "regulated stop" });
    expect(stop.coverage.complete).toBe(true);
    expect(stop.coverage.acked.get("w-reg")).toMatchObject({ outcome: "applied", aborted: true });
    await expect(busy).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_HANDLER_ABORTED"));
  });
});
