import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { OverrideClient } from "../../actors/index.ts";
import { OVERRIDE_ACTOR_ID, OVERRIDE_TARGET, encodeBody, encodeSend, overrideSubjects, generateSigningKey, signControl, type OverrideTaskResultBody } from "../../protocols/index.ts";
import { readAnswer } from "../support/wire.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";
import { runTether } from "../support/processes.ts";
import { Worker, journal, keyDir, keyFiles, ledgerEvents, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

describe("takeover on a 3-node cluster", () => {
  it("answers the original askers (in flight and queued, remote and local) with the human's result once the human completes each task, through the CLI or the API", { timeout: 120_000 }, async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    await using a = await startNode(u1, { jetstreamReplicas: 3 });
    await using b = await startNode(u2, { jetstreamReplicas: 3 });
    await using c = await startNode(u3, { jetstreamReplicas: 3 });
    await startOversight(c);
    const { operator } = await operatorKeys(c);
    await b.spawn("w-human", Worker);
    // in flight, asked from node a; queued behind it, asked on node b itself
    const inFlight = a.ref("w-human").ask({ type: "work", seq: 1, ms: 60_000 }, { timeoutMs: 90_000 });
    inFlight.catch(() => undefined);
    await eventually(() => journal.get("w-human")?.handled.length === 1, 10_000, "handler in flight");
    const queued = b.ref("w-human").ask({ type: "work", seq: 2, ms: 0 }, { timeoutMs: 90_000 });
    queued.catch(() => undefined);
    const tellDone = b.ref("w-human").tell({ type: "work", seq: 3, ms: 0 });
    await tellDone;

    const client = new OverrideClient({ nc: a.nats, signer: operator });
    const takeover = await client.issue({ action: "takeover", scope: { kind: "agent", id: "w-human" }, reason: "a pharmacist takes it" });
    expect(takeover.coverage.acked.get("w-human")).toMatchObject({ nodeId: b.id, aborted: true });
    await eventually(async () => (await c.humanWork.list()).length === 3, 10_000, "three human tasks");
    const tasks = await c.humanWork.list();
    expect(tasks.map((t) => [(t.body as { seq: number }).seq, t.awaitsReply ?? false])).toEqual([[1, true], [2, true], [3, false]]);
    let settled = false;
    void inFlight.finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false); // the aborted handler does not answer: the human will

    // an attacker with a plain NATS client cannot answer for the human: an unsigned result, one signed by
    // an unknown key and a bare body are refused; the asker still waits, the task stays
    const plain = await connect({ servers: u2 });
    try {
      const forged: OverrideTaskResultBody = { type: "tether.override.v1.task-result", taskId: tasks[0]?.taskId ?? "", result: { dispensed: 500 } };
      const send = async (envelope: unknown) =>
        readAnswer((await plain.request(c.subjects.actor(OVERRIDE_ACTOR_ID), encodeSend("ask", `forge-${Date.now()}-${Math.random()}`, "x", true, { type: "tether.override.v1.work-result", envelope }), { timeout: 10_000 })).data);
      const unsigned = await send({ type: "tether.control.v1.signed", token: "e30.e30.e30" });
      const stranger = await send({ type: "tether.control.v1.signed", token: (await signControl(forged, { key: await generateSigningKey("ES256"), network: c.network, target: OVERRIDE_TARGET, now: Date.now() })).token });
      const wrongShape = await send({ type: "tether.override.v1.task-result", taskId: forged.taskId, result: forged.result });
      for (const answer of [unsigned, stranger, wrongShape]) expect(answer.ok).toBe(false);
      expect(stranger.ok ? "" : stranger.error.code).toBe("ERR_CONTROL_KEY_UNKNOWN");
      // nor by announcing the task done straight to the nodes: the node holding the ask checks the person's signature
      const done = overrideSubjects(c.network).done();
      const announce = (envelope: unknown) => encodeBody({ type: "tether.override.v1.task-done", taskId: forged.taskId, actorId: "w-human", envelope, by: "oscar", at: Date.now() });
      plain.publish(done, announce({ type: "tether.control.v1.signed", token: "e30.e30.e30" }));
      plain.publish(done, announce({ type: "tether.control.v1.signed", token: (await signControl(forged, { key: await generateSigningKey("ES256"), network: c.network, target: OVERRIDE_TARGET, now: Date.now() })).token }));
      // a genuine operator-signed result, but for another task, replayed under this one's id
      plain.publish(done, announce(await operator.sign({ ...forged, taskId: tasks[1]?.taskId ?? "" }, OVERRIDE_TARGET)));
      await plain.flush();
    } finally {
      await plain.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false); // still waiting for the human
    expect((await c.humanWork.list()).length).toBe(3);

    // the human completes the in-flight one from the shell
    const done = await runTether(["overrides", "done", tasks[0]?.taskId ?? "", '{"dispensed":0,"by":"hand"}', "--nats", u3, "--signer", keyFiles.get(operator.kid) ?? ""]);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain("the waiting asker was answered with it");
    expect(await inFlight).toEqual({ dispensed: 0, by: "hand" });
    // ... and the queued one through the API
    expect(await client.completeTask(tasks[1]?.taskId ?? "", 20)).toMatchObject({ answered: true });
    expect(await queued).toBe(20);
    expect(await client.completeTask(tasks[2]?.taskId ?? "", "noted")).toMatchObject({ answered: false }); // a tell: nobody waits
    expect(journal.get("w-human")?.handled).toEqual([1]); // the agent itself never handled 2 or 3

    await eventually(async () => (await ledgerEvents(c, "override.task.done")).length === 3, 10_000, "three outcomes recorded");
    const outcomes = await ledgerEvents(c, "override.task.done");
    expect(outcomes.map((o) => [o["task"], o["answered"], o["result"]])).toEqual([
      [tasks[0]?.taskId, true, { dispensed: 0, by: "hand" }],
      [tasks[1]?.taskId, true, 20],
      [tasks[2]?.taskId, false, "noted"],
    ]);
    expect(outcomes.every((o) => o["subject"] === takeover.id)).toBe(true);
  });
});
