import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { ErrorReply, SupervisorStatus, decodeEnvelope, encodeSend, generateSigningKey, signControl } from "../../protocols/index.ts";
import { Supervisor, constantBackoff, defineSupervisor, type SupervisorEvent } from "../../supervisors/index.ts";
import { Counter } from "../support/actors.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";

const worker = (id: string) => ({ id, start: () => new Counter() });

describe("a supervisor against a plain NATS client", () => {
  it("restarts and stops nobody on forged failure, escalation, reconcile and shutdown messages; a real failure still restarts", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const events: SupervisorEvent[] = [];
    const inner = defineSupervisor({ id: "inner", intensity: { maxRestarts: 0, withinMs: 60_000 }, backoff: constantBackoff({ delayMs: 5 }), children: [worker("leaf")] });
    await using root = await Supervisor.start(node, defineSupervisor({ id: "outer", backoff: constantBackoff({ delayMs: 5 }), children: [worker("sibling"), inner] }));
    root.onEvent((e) => events.push(e));
    await node.ref<typeof Counter>("sibling").ask({ type: "add", n: 3 });
    await node.ref<typeof Counter>("leaf").ask({ type: "add", n: 4 });

    const nc = await connect({ servers: server.url });
    try {
      let n = 0;
      let lastBody: unknown;
      const raw = async (to: string, body: unknown): Promise<string> => {
        const reply = await nc.request(node.subjects.actor(to), encodeSend("ask", `mallory-${++n}`, "mallory", false, body), { timeout: 10_000 });
        const envelope = decodeEnvelope(reply.data);
        lastBody = "body" in envelope ? envelope.body : undefined;
        return envelope.kind === "error" ? ErrorReply.parse(envelope.body).code : "accepted";
      };
      // before: each of the first two restarted the named child (and enough of them escalated the whole tree)
      expect(await raw("outer", { type: "tether.supervisor.v1.child_failed", child: "sibling", nodeId: node.id, code: "ERR_ACTOR_HANDLER_FAILED", key: "guess" })).toBe("accepted");
      expect(await raw("outer", { type: "tether.supervisor.v1.child_escalated", child: "inner" })).toBe("accepted");
      expect(await raw("outer", { type: "tether.supervisor.v1.child_escalated", child: "sibling" })).toBe("accepted");
      expect(await raw("inner", { type: "tether.supervisor.v1.child_failed", child: "leaf", nodeId: node.id, code: "ERR_ACTOR_HANDLER_FAILED" })).toBe("ERR_MESSAGE_INVALID");
      expect(await raw("inner", { type: "tether.supervisor.v1.reconcile", key: "guess" })).toBe("accepted");
      // shutdown stops a whole subtree: it must carry a stop of that supervisor signed by a node's or an operator's key
      expect(await raw("outer", { type: "tether.supervisor.v1.shutdown" })).toBe("ERR_MESSAGE_INVALID");
      const stranger = await generateSigningKey("ES256");
      const forged = await signControl({ type: "tether.node.v1.stop", actorId: "outer" }, { key: stranger, network: node.network, target: "outer", now: Date.now() });
      expect(await raw("outer", { type: "tether.supervisor.v1.shutdown", envelope: forged })).toBe("accepted");
      expect(SupervisorStatus.parse(lastBody)).toMatchObject({ phase: "running", error: { code: "ERR_CONTROL_KEY_UNKNOWN" } });
      // a genuine stop of another supervisor, captured and replayed here, names the wrong target
      const captured = await node.controlSigner.sign({ type: "tether.node.v1.stop", actorId: "inner" }, "inner");
      expect(await raw("outer", { type: "tether.supervisor.v1.shutdown", envelope: captured })).toBe("accepted");
      expect(SupervisorStatus.parse(lastBody).error?.code).toBe("ERR_CONTROL_MISDIRECTED");
    } finally {
      await nc.close();
    }
    expect(root.restarts).toBe(0);
    expect(events).toEqual([]);
    expect(await node.ref<typeof Counter>("sibling").ask({ type: "get" })).toBe(3);
    expect(await node.ref<typeof Counter>("leaf").ask({ type: "get" })).toBe(4);

    // the supervisor's own failure feed still works: a real failure of the leaf escalates inner, and outer restarts it
    await node.ref<typeof Counter>("leaf").ask({ type: "fail", reason: "boom" }).catch(() => undefined);
    await eventually(() => root.restarts === 1, 10_000, "outer restarts inner");
    await eventually(async () => (await node.ref<typeof Counter>("leaf").ask({ type: "get" }).catch(() => -1)) === 0, 10_000, "leaf back, fresh");
    expect(await node.ref<typeof Counter>("sibling").ask({ type: "get" })).toBe(3);
    // the tree's own stop is signed by the node, and stops every child, the nested tree's too
    await root.stop();
    await eventually(() => !node.localActors().some((id) => ["outer", "sibling", "inner", "leaf"].includes(id)), 10_000, "the whole tree stopped");
  });
});
