import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import { OverrideClient } from "../../actors/index.ts";
import { Inventory, Payment, Shipping, type OrderOutcome } from "../../examples/supply-chain/agents.ts";
import { OVERRIDE_ACTOR_ID, OverrideBroadcast, decodeBody, encodeBody, encodeSend, hasCode, type RollbackReport, overrideSubjects, signControl, generateSigningKey, type OverrideSignalBody } from "../../protocols/index.ts";
import { ControlSigner, FakeClock, systemClock, type NodeEvent } from "../../runtime/index.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { Worker, journal, keyDir, keyFiles, ledgerEvents, operatorKeys, startOversight } from "../support/override.ts";

afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

describe("the override plane on one server", () => {
  it("stops an actor busy in a long handler (its ctx.signal aborts it), keeps its queue, refuses new work, and releases the queue in order when lifted", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await startOversight(node);
    const { operator } = await operatorKeys(node);
    const worker = await node.spawn("w-busy", Worker);
    const busy = worker.ask({ type: "work", seq: 1, ms: 60_000 });
    busy.catch(() => undefined);
    await eventually(() => journal.get("w-busy")?.handled.length === 1, 5_000, "handler in flight");
    for (const seq of [2, 3, 4]) await worker.tell({ type: "work", seq, ms: 0 });
    const client = new OverrideClient({ nc: node.nats, signer: operator });
    const seen: string[] = [];
    const stop = await client.issue({ action: "stop", scope: { kind: "agent", id: "w-busy" }, reason: "hallucinated dose" }, (c) => seen.push(`${c.acked.size}/${c.expected?.length}`));
    expect(stop.escalated).toBe(false);
    expect(stop.coverage.complete).toBe(true);
    expect(seen.at(-1)).toBe("1/1");
    const ack = stop.coverage.acked.get("w-busy");
    expect(ack).toMatchObject({ outcome: "applied", aborted: true, queued: 3, nodeId: node.id, fenced: false });
    await expect(busy).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_HANDLER_ABORTED"));
    expect(journal.get("w-busy")?.aborted).toEqual(["ERR_ACTOR_STOPPED_BY_OVERRIDE"]);
    await expect(worker.ask({ type: "work", seq: 9, ms: 0 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));
    expect(journal.get("w-busy")?.handled).toEqual([1]); // queued messages wait
    expect(node.overrides.active().map((s) => s.id)).toEqual([stop.id]);

    const lifted = await client.lift(stop.id, { reason: "dose corrected" });
    expect(lifted.coverage.complete).toBe(true);
    await eventually(() => journal.get("w-busy")?.handled.length === 4, 5_000, "queue released");
    expect(journal.get("w-busy")?.handled).toEqual([1, 2, 3, 4]);
    expect(await worker.ask({ type: "work", seq: 5, ms: 0 })).toBe(5);

    // recorded: the signal (who, why), each acknowledgement, the lift
    await eventually(async () => (await ledgerEvents(node, "override.ack")).length === 2, 5_000, "ack records");
    const [issued] = await ledgerEvents(node, "override.issued");
    expect(issued).toMatchObject({ subject: stop.id, action: "stop", level: "emergency", reason: "hallucinated dose", by: { role: "operator", owner: "oscar" }, expected: 1 });
    expect((await ledgerEvents(node, "override.ack"))[0]).toMatchObject({ subject: stop.id, actors: ["w-busy"], node: node.id });
    expect((await ledgerEvents(node, "override.lifted"))[0]).toMatchObject({ subject: stop.id, disposition: "release", by: { owner: "oscar" } });
  });

  it("pauses after the current message, holds the mailbox, and resume releases it in order; a lift can dead-letter a stop's queue", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await startOversight(node);
    const { operator } = await operatorKeys(node);
    const worker = await node.spawn("w-pause", Worker);
    const first = worker.ask({ type: "work", seq: 1, ms: 300 });
    await eventually(() => journal.get("w-pause")?.handled.length === 1, 5_000, "handler in flight");
    const client = new OverrideClient({ nc: node.nats, signer: operator });
    const pause = await client.issue({ action: "pause", scope: { kind: "capability", capability: "dispensing" }, reason: "audit" });
    expect(pause.coverage.acked.get("w-pause")).toMatchObject({ outcome: "applied", aborted: false });
    const later = [2, 3, 4].map((seq) => worker.ask({ type: "work", seq, ms: 0 }));
    expect(await first).toBe(1); // the current message finishes
    await new Promise((r) => setTimeout(r, 200));
    expect(journal.get("w-pause")?.handled).toEqual([1]);
    const resume = await client.issue({ action: "resume", scope: { kind: "capability", capability: "dispensing" }, reason: "audit done" });
    expect(resume.coverage.complete).toBe(true);
    expect(await Promise.all(later)).toEqual([2, 3, 4]);
    expect(journal.get("w-pause")?.handled).toEqual([1, 2, 3, 4]);

    // a stop whose lift dead-letters what it kept
    const busy = worker.ask({ type: "work", seq: 5, ms: 60_000 });
    busy.catch(() => undefined);
    await eventually(() => journal.get("w-pause")?.handled.length === 5, 5_000, "in flight");
    const queued = worker.ask({ type: "work", seq: 6, ms: 0 });
    queued.catch(() => undefined);
    const stop = await client.issue({ action: "stop", scope: { kind: "network" }, reason: "incident", onLift: "dead-letter" });
    expect(stop.coverage.expected).toEqual(["w-pause"]); // neither the ledger nor the override actor
    await client.lift(stop.id);
    await expect(queued).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTOR_STOPPED_BY_OVERRIDE"));
    expect(journal.get("w-pause")?.handled).toEqual([1, 2, 3, 4, 5]);
  });

  it("refuses forged, replayed, expired, unsigned, under-privileged and unpersisted signals from a plain NATS client, and records each", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await startOversight(node);
    const { operator, observer } = await operatorKeys(node);
    await node.spawn("w-victim", Worker);
    const refused: string[] = [];
    node.onEvent((e: NodeEvent) => {
      if (e.type === "control-refused") refused.push(e.code);
    });
    const nc = await connect({ servers: server.url });
    try {
      const subjects = overrideSubjects(node.network);
      const captured: Uint8Array[] = [];
      nc.subscribe(subjects.signals(), { callback: (_e, m) => void captured.push(m.data) });
      await nc.flush();
      const signal = (id: string): OverrideSignalBody => ({ type: "tether.override.v1.signal", id, action: "stop", scope: { kind: "agent", id: "w-victim" }, level: "emergency", reason: "attack", onLift: "release", ackDeadlineMs: 1_000 });
      const broadcast = (token: string) => encodeBody({ type: "tether.override.v1.broadcast", op: "apply", envelope: { type: "tether.control.v1.signed", token } });
      const stranger = await generateSigningKey("ES256");

      // straight onto the priority subject: unsigned, forged, under-privileged, expired, operator-signed but never persisted
      nc.publish(subjects.signals(), encodeBody({ type: "tether.override.v1.broadcast", op: "apply", envelope: signal("unsigned") }));
      nc.publish(subjects.signals(), broadcast((await signControl(signal("forged"), { key: stranger, network: node.network, target: "tether-override", now: Date.now() })).token));
      nc.publish(subjects.signals(), broadcast((await observer.sign(signal("observer"), "tether-override")).token));
      const past = await ControlSigner.fromKeyFile(keyFiles.get(operator.kid) ?? "", node.network, { clock: { ...systemClock, now: () => Date.now() - 600_000 } });
      const expired = await past.sign(signal("expired"), "tether-override");
      nc.publish(subjects.signals(), broadcast(expired.token));
      nc.publish(subjects.signals(), broadcast((await operator.sign(signal("unpersisted"), "tether-override")).token));
      await eventually(() => refused.length === 5, 5_000, "five refusals");
      expect(refused).toEqual(["ERR_CONTROL_UNSIGNED", "ERR_CONTROL_KEY_UNKNOWN", "ERR_CONTROL_FORBIDDEN", "ERR_CONTROL_EXPIRED", "ERR_OVERRIDE_INVALID"]);

      // to the override actor: an observer may not stop anything; nothing is persisted or broadcast
      const ask = async (token: string) => {
        const reply = await nc.request(node.subjects.actor(OVERRIDE_ACTOR_ID), encodeSend("ask", `a${Date.now()}`, "x", true, { type: "tether.override.v1.issue", envelope: { type: "tether.control.v1.signed", token } }), { timeout: 5_000 });
        return reply.data;
      };
      await ask((await observer.sign(signal("observer2"), "tether-override")).token);
      await eventually(() => refused.length === 6, 5_000, "observer refusal");
      expect(refused[5]).toBe("ERR_CONTROL_FORBIDDEN");
      expect(node.overrides.active()).toEqual([]);

      // a genuine stop, captured and replayed after it was lifted: refused, the actor stays running
      const client = new OverrideClient({ nc: node.nats, signer: operator });
      const before = captured.length;
      const stop = await client.issue({ action: "stop", scope: { kind: "agent", id: "w-victim" }, reason: "real" });
      await client.lift(stop.id);
      const genuine = captured.slice(before).find((d) => {
        const b = OverrideBroadcast.safeParse(decodeBody(d));
        return b.success && b.data.op === "apply";
      });
      nc.publish(subjects.signals(), genuine ?? new Uint8Array());
      await eventually(() => refused.length === 7, 5_000, "replay refusal");
      expect(refused[6]).toBe("ERR_CONTROL_REPLAYED");
      expect(await node.ref("w-victim").ask({ type: "work", seq: 1, ms: 0 })).toBe(1);

      const violations = async () => (await ledgerEvents(node, "violation")).filter((v) => v["target"] === "tether-override" || v["subject"] === "tether-override");
      await eventually(async () => (await violations()).length === 7, 5_000, "seven violation records");
    } finally {
      await nc.close();
    }
  });

  it("shows coverage as acknowledgements arrive and escalates a missing one at the deadline (fake clock)", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const clock = new FakeClock(Date.now());
    await startOversight(node, { clock });
    const { operator } = await operatorKeys(node);
    await node.spawn("w-here", Worker);
    const client = new OverrideClient({ nc: node.nats, signer: operator, clock });
    const escalations: string[] = [];
    const seen: string[] = [];
    const pending = client.issue({ action: "pause", scope: { kind: "subtree", id: "w-here", members: ["w-gone"] }, reason: "drill", ackDeadlineMs: 2_000 }, (c) => seen.push(`${c.acked.size}/${c.expected?.length}`));
    await eventually(() => seen.at(-1) === "1/2", 5_000, "first ack, with the expected set known");
    node.nats.subscribe(overrideSubjects(node.network).escalations("x").replace(/\.x$/, ".*"), { callback: (_e, m) => void escalations.push(String((decodeBody(m.data) as { missing: string[] }).missing)) });
    await node.nats.flush();
    clock.advance(2_000);
    const outcome = await pending;
    expect(outcome.escalated).toBe(true);
    expect(outcome.coverage.missing).toEqual(["w-gone"]);
    expect(outcome.coverage.fraction).toBe(0.5);
    await eventually(() => escalations.length === 1, 5_000, "escalation message");
    expect(escalations).toEqual(["w-gone"]);
    await eventually(async () => (await ledgerEvents(node, "override.escalated")).length === 1, 5_000, "escalation record");
    expect((await ledgerEvents(node, "override.escalated"))[0]).toMatchObject({ subject: outcome.id, expected: 2, acked: 1, missing: ["w-gone"] });
  });

  it("constrains an agent's actions at run time, and an advisory signal is the actor's decision (recorded)", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await startOversight(node);
    const { operator } = await operatorKeys(node);
    const w = await node.spawn("w-limited", Worker);
    const stubborn = await node.spawn("w-stubborn", Worker, { args: [{ comply: false, reason: "mid-surgery" }] });
    const client = new OverrideClient({ nc: node.nats, signer: operator });
    await client.issue({ action: "constrain", scope: { kind: "agent", id: "w-limited" }, reason: "limit", constraints: { allowedActions: ["dispense"], bounds: { dose: { max: 10 } } } });
    expect(await w.ask({ type: "act", name: "dispense", dose: 5 })).toBe("done");
    await expect(w.ask({ type: "act", name: "dispense", dose: 50 })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTION_CONSTRAINED"));
    await expect(w.ask({ type: "act", name: "order" })).rejects.toSatisfy((e: unknown) => hasCode(e, "ERR_ACTION_CONSTRAINED"));

    const advisory = await client.issue({ action: "stop", level: "advisory", scope: { kind: "agent", id: "w-stubborn" }, reason: "please stop" });
    expect(advisory.coverage.acked.get("w-stubborn")).toMatchObject({ outcome: "declined", decision: "decline: mid-surgery" });
    expect(await stubborn.ask({ type: "work", seq: 1, ms: 0 })).toBe(1);
  });

  it("takeover moves the in-flight and queued work to the human work queue and records the human's result; rollback runs the rollback coordinator", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    await startOversight(node);
    const { operator } = await operatorKeys(node);
    const worker = await node.spawn("w-take", Worker);
    const busy = worker.ask({ type: "work", seq: 1, ms: 60_000 }, { timeoutMs: 60_000 });
    busy.catch(() => undefined);
    await eventually(() => journal.get("w-take")?.handled.length === 1, 5_000, "in flight");
    const queued = worker.ask({ type: "work", seq: 2, ms: 0 }, { timeoutMs: 60_000 });
    queued.catch(() => undefined);
    const client = new OverrideClient({ nc: node.nats, signer: operator });
    const takeover = await client.issue({ action: "takeover", scope: { kind: "agent", id: "w-take" }, reason: "a pharmacist decides" });
    expect(takeover.coverage.acked.get("w-take")).toMatchObject({ outcome: "applied", aborted: true, queued: 0 });
    expect(journal.get("w-take")?.aborted).toEqual(["ERR_ACTOR_STOPPED_BY_OVERRIDE"]);
    await eventually(async () => (await node.humanWork.list()).length === 2, 5_000, "two human tasks");
    const tasks = await node.humanWork.list();
    expect(tasks.map((t) => [t.actorId, (t.body as { seq: number }).seq, t.overrideId])).toEqual([["w-take", 1, takeover.id], ["w-take", 2, takeover.id]]);
    expect(tasks.every((t) => t.awaitsReply === true)).toBe(true);
    // the human's result is the answer the asker was waiting for, and is recorded as the outcome
    expect(await client.completeTask(tasks[0]?.taskId ?? "", { dispensed: 0, note: "held for review" })).toMatchObject({ answered: true });
    expect(await busy).toEqual({ dispensed: 0, note: "held for review" });
    expect((await node.humanWork.list()).map((t) => t.taskId)).toEqual([tasks[1]?.taskId]);
    await eventually(async () => (await ledgerEvents(node, "override.task.done")).length === 1, 5_000, "task result recorded");
    expect((await ledgerEvents(node, "override.task.done"))[0]).toMatchObject({ subject: takeover.id, actorId: "w-take", by: { owner: "oscar", role: "operator" }, result: { dispensed: 0 }, answered: true });
    await client.completeTask(tasks[1]?.taskId ?? "", 2);
    expect(await queued).toBe(2);

    // rollback of a workflow: the override actor runs the node's rollback coordinator and returns its report
    const shop: string[] = [];
    await node.spawn("inventory", Inventory, { args: [shop] });
    await node.spawn("shipping", Shipping, { args: [shop] });
    await node.spawn("payment", Payment, { args: [shop] });
    const order = (await node.ref<typeof Inventory>("inventory").ask({ type: "order.place", order: "O-1", sku: "widget", qty: 10, batch: "B-7" })) as OrderOutcome;
    const wid = order.workflowId as string;
    const rollback = await client.issue({ action: "rollback", scope: { kind: "workflow", wid }, reason: "bad batch" });
    expect((rollback.reply.result as RollbackReport).steps.map((st) => [st.actor, st.outcome])).toEqual([["payment", "compensated"], ["shipping", "compensated"], ["inventory", "compensated"]]);
    expect((await ledgerEvents(node, "override.rollback.done"))[0]).toMatchObject({ subject: rollback.id, workflow: wid });
  });
});
