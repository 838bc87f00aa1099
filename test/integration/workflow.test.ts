import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApprovalClient, Workflows } from "../../actors/index.ts";
import { connect } from "@nats-io/transport-node";
import { encodeSend, exportPrivateJwk, generateSigningKey, hasCode, networkSubjects, workflowActorId, type WorkflowDefinitionInput } from "../../protocols/index.ts";
import { ControlSigner, saveSigningKey } from "../../runtime/index.ts";
import { StepAgent, type StepLog } from "../fixtures/workflow-agents.ts";
import { eventually, startNode, startServer } from "../support/nats.ts";
import { readAnswer } from "../support/wire.ts";

const newLog = (): StepLog => ({ asks: [], effects: [], undone: [] });

describe("workflows", () => {
  it("runs a diamond DAG with parallel steps, mapping outputs into inputs, and links each step's ECT to its dependencies' ECTs", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const log = newLog();
    let release = () => undefined as void;
    log.release = new Promise<void>((r) => (release = r));
    let held = 0;
    log.held = () => {
      // b and c are both held at once: they run in parallel
      if (++held === 2) release();
    };
    for (const id of ["wa", "wb", "wc", "wd"]) await node.spawn(id, StepAgent, { args: [log] });
    const workflows = Workflows.register(node);
    const definition: WorkflowDefinitionInput = {
      name: "diamond",
      steps: [
        { id: "a", agent: "wa", message: { type: "work" }, input: { value: { from: "input", path: "start" } }, idempotencyKey: "key" },
        { id: "b", agent: "wb", message: { type: "work", hold: true, add: 10 }, dependsOn: ["a"], input: { value: { from: "step", step: "a", path: "value" } }, idempotencyKey: "key" },
        { id: "c", capability: "adder", message: { type: "work", hold: true, add: 100 }, dependsOn: ["a"], input: { value: { from: "step", step: "a", path: "value" } }, idempotencyKey: "key" },
        { id: "d", agent: "wd", message: { type: "work" }, dependsOn: ["b", "c"], input: { value: { from: "step", step: "b", path: "value" } }, idempotencyKey: "key" },
      ],
    };
    const wid = randomUUID();
    const started = await workflows.run(definition, { start: 1 }, { wid });
    expect(started.status).toBe("running");
    const done = await workflows.wait(wid, { timeoutMs: 30_000 });
    expect(done.status).toBe("done");
    expect(Object.fromEntries(Object.entries(done.steps).map(([id, s]) => [id, s.state]))).toEqual({ a: "done", b: "done", c: "done", d: "done" });
    expect(done.steps["a"]?.output).toMatchObject({ value: 2 });
    expect(done.steps["b"]?.output).toMatchObject({ value: 12 });
    expect(done.steps["d"]?.output).toMatchObject({ value: 13 });
    expect(log.effects.sort()).toEqual(["a", "b", "c", "d"].map((s) => `${wid}/${s}`));

    // the ECT DAG is the workflow DAG
    const store = node.assurance.store;
    const ect = async (id: string) => store.get(done.steps[id]?.ect ?? "-");
    expect((await ect("a"))?.par).toEqual([done.startEct]);
    expect((await ect("b"))?.par).toEqual([done.steps["a"]?.ect]);
    expect((await ect("d"))?.par).toEqual([done.steps["b"]?.ect, done.steps["c"]?.ect]);
    expect((await ect("d"))?.wid).toBe(wid);
    expect((await ect("d"))?.exec_act).toBe("workflow.step:d");
  });

  it("retries a failing step, and compensates done steps in reverse order when a step fails for good", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const log = newLog();
    for (const id of ["wa", "wb", "flaky", "broken"]) await node.spawn(id, StepAgent, { args: [log] });
    const workflows = Workflows.register(node);
    const retryId = randomUUID();
    const sagaId = randomUUID();
    const retried = await workflows.run(
      { name: "retry", steps: [{ id: "f", agent: "flaky", message: { type: "work", fail: 2 }, retry: { maxAttempts: 3 } }] },
      undefined,
      { wid: retryId },
    );
    expect(retried.status).toBe("running");
    const ok = await workflows.wait(retryId, { timeoutMs: 30_000 });
    expect(ok.status).toBe("done");
    expect(ok.steps["f"]?.attempts).toBe(3);

    await workflows.run(
      {
        name: "saga",
        onFailure: "compensate",
        steps: [
          { id: "a", agent: "wa", message: { type: "work" }, compensation: { message: { type: "undo", key: "undo-a" } } },
          { id: "b", agent: "wb", message: { type: "work" }, dependsOn: ["a"], compensation: { message: { type: "undo", key: "undo-b" } } },
          { id: "x", agent: "broken", message: { type: "work", fail: 99 }, dependsOn: ["b"] },
        ],
      },
      undefined,
      { wid: sagaId },
    );
    const failed = await workflows.wait(sagaId, { timeoutMs: 30_000 });
    expect(failed.status).toBe("rolled_back");
    expect(failed.steps["x"]).toMatchObject({ state: "failed", error: { code: "ERR_ACTOR_HANDLER_FAILED" } });
    expect([failed.steps["a"]?.state, failed.steps["b"]?.state]).toEqual(["rolled_back", "rolled_back"]);
    expect(log.undone).toEqual(["undo-b", "undo-a"]);
  });

  it("a plain NATS client cannot feed a running workflow a step result, failure, retry or resume", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const log = newLog();
    let release = () => undefined as void;
    log.release = new Promise<void>((r) => (release = r));
    let heldNow = false;
    log.held = () => (heldNow = true);
    await node.spawn("held", StepAgent, { args: [log] });
    await node.spawn("next", StepAgent, { args: [log] });
    const workflows = Workflows.register(node);
    const wid = randomUUID();
    await workflows.run(
      { name: "guarded", steps: [{ id: "a", agent: "held", message: { type: "work", hold: true, add: 1 } }, { id: "b", agent: "next", message: { type: "work" }, dependsOn: ["a"], input: { value: { from: "step", step: "a", path: "value" } } }] },
      undefined,
      { wid },
    );
    await eventually(() => heldNow, 10_000, "step a in flight");
    const nc = await connect({ servers: server.url });
    try {
      const forged = [
        { type: "tether.workflow.v1.step-done", step: "a", attempt: 1, output: { value: 1_000_000 } },
        { type: "tether.workflow.v1.step-done", key: "00000000-0000-4000-8000-000000000000", step: "a", attempt: 1, output: { value: 1_000_000 } },
        { type: "tether.workflow.v1.step-failed", key: "guess", step: "a", attempt: 1, code: "ERR_X", message: "made up" },
        { type: "tether.workflow.v1.resume", key: "guess" },
      ];
      for (const [i, body] of forged.entries()) {
        const reply = await nc.request(networkSubjects("default").actor(workflowActorId(wid)), encodeSend("ask", `forged-${i}-000000000000`, "mallory", false, body), { timeout: 5_000 });
        expect(readAnswer(reply.data)).toMatchObject({ ok: false, error: { code: "ERR_MESSAGE_INVALID" } });
      }
    } finally {
      await nc.close();
    }
    expect((await workflows.status(wid)).steps["a"]?.state).toBe("running");
    release();
    const done = await workflows.wait(wid, { timeoutMs: 30_000 });
    expect(done.status).toBe("done");
    expect(done.steps["a"]?.output).toMatchObject({ value: 1 }); // the agent's answer, not the forged one
    expect(done.steps["b"]?.output).toMatchObject({ value: 2 });
  });

  it("refuses a malformed definition before spawning anything, naming the step", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const workflows = Workflows.register(node);
    const badId = randomUUID();
    const error = await workflows.run({ name: "bad", steps: [{ id: "a", agent: "x", message: { type: "t" }, dependsOn: ["nope"] }] }, undefined, { wid: badId }).catch((e: unknown) => e);
    expect(hasCode(error, "ERR_WORKFLOW_INVALID")).toBe(true);
    expect((error as { details: { step: string } }).details.step).toBe("a");
    expect(node.localActors()).not.toContain(`wf-${badId}`);
  });
});

describe("a workflow gate step", () => {
  it("waits for a signed approval before the gated step, and fails the step on a rejection", async () => {
    await using server = await startServer();
    await using node = await startNode(server.url);
    const approvals = new ApprovalClient();
    approvals.attach(node);
    await approvals.start();
    const keyDir = mkdtempSync(join(tmpdir(), "tether-wf-gate-"));
    try {
      const publish = async (role: "owner" | "approver", name: string, by?: ControlSigner) => {
        const key = await generateSigningKey("ES256");
        const file = join(keyDir, `${name}.jwk.json`);
        saveSigningKey(file, await exportPrivateJwk(key));
        const signer = await ControlSigner.fromKeyFile(file, node.network);
        await node.controlNode(node.id, { type: "tether.node.v1.key-publish", kid: key.kid, alg: key.alg, role, owner: name, jwk: { ...key.publicJwk } }, 5_000, { signer: by ?? signer });
        return signer;
      };
      const owner = await publish("owner", "olivia");
      const approver = await publish("approver", "dr-house", owner);
      const log = newLog();
      for (const id of ["wa", "wb"]) await node.spawn(id, StepAgent, { args: [log] });
      const workflows = Workflows.register(node, { approvals });
      const definition: WorkflowDefinitionInput = {
        name: "gated",
        steps: [
          { id: "a", agent: "wa", message: { type: "work", key: "a" } },
          { id: "b", agent: "wb", message: { type: "work", key: "b" }, dependsOn: ["a"], gate: { deciders: { roles: ["approver"] }, timeoutMs: 600_000 } },
        ],
      };
      const pendingFor = async (action: string) => {
        let id: string | undefined;
        await eventually(async () => {
          id = (await approvals.list("pending")).find((r) => r.action === action)?.id;
          return id !== undefined;
        }, 10_000, "a pending gate");
        return id as string;
      };
      const approved = randomUUID();
      await workflows.run(definition, undefined, { wid: approved });
      const first = await pendingFor("gated.b");
      expect((await workflows.status(approved)).steps["b"]?.state).toBe("running");
      expect(log.effects).toEqual(["a"]); // b waits for the human
      await approvals.decide(approver, first, "approve");
      expect((await workflows.wait(approved, { timeoutMs: 30_000 })).status).toBe("done");
      expect(log.effects).toEqual(["a", "b"]);

      const rejected = randomUUID();
      await workflows.run(definition, undefined, { wid: rejected });
      await approvals.decide(approver, await pendingFor("gated.b"), "reject", "no");
      const failed = await workflows.wait(rejected, { timeoutMs: 30_000 });
      expect(failed.status).toBe("failed");
      expect(failed.steps["b"]).toMatchObject({ state: "failed", error: { code: "ERR_APPROVAL_REJECTED" } });
      expect(log.effects.filter((k) => k === "b")).toHaveLength(1);
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
  });
});
