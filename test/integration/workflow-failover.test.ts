import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Workflows } from "../../actors/index.ts";
import { workflowActorId } from "../../protocols/index.ts";
import { StepAgent, type StepLog } from "../fixtures/workflow-agents.ts";
import { eventually, startCluster, startNode } from "../support/nats.ts";

const root = resolve(import.meta.dirname, "..", "..");

/** A workflow node process; SIGKILLed on dispose if still running. */
const nodeProcess = (url: string, id: string) => {
  const child = spawn(process.execPath, ["--import", "tsx", resolve(root, "test/fixtures/workflow-node.ts"), url, id], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise((r) => child.once("exit", r));
  return {
    child,
    output: () => out,
    up: () => eventually(() => out.includes(`workflow node ${id} up`), 60_000, () => `node process ${id}: ${out}`),
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
};

describe("a workflow on a 3-node cluster", () => {
  it("resumes on a survivor after its node is SIGKILLed, running no completed step again", async () => {
    await using cluster = await startCluster();
    const [u1, u2, u3] = cluster.urls as [string, string, string];
    await using victim = nodeProcess(u1, "wf-victim");
    await using survivor = nodeProcess(u2, "wf-survivor");
    await Promise.all([victim.up(), survivor.up()]);
    await using steps = await startNode(u3, { jetstreamReplicas: 3, heartbeatMs: 500, leaseTtlMs: 3_000 });
    const log: StepLog = { asks: [], effects: [], undone: [] };
    let release = () => undefined as void;
    log.release = new Promise<void>((r) => (release = r));
    let heldNow = false;
    log.held = () => (heldNow = true);
    for (const id of ["s-a", "s-b", "s-c", "s-d"]) await steps.spawn(id, StepAgent, { args: [log] });

    const wid = randomUUID();
    const actorId = workflowActorId(wid);
    await steps.controlNode("wf-victim", { type: "tether.node.v1.activate", actorId, className: "WorkflowActor" });
    await steps.ref(actorId).ask({
      type: "tether.workflow.v1.start",
      wid,
      definition: {
        name: "failover",
        steps: [
          { id: "a", agent: "s-a", message: { type: "work" }, idempotencyKey: "key" },
          { id: "b", agent: "s-b", message: { type: "work" }, dependsOn: ["a"], idempotencyKey: "key" },
          { id: "c", agent: "s-c", message: { type: "work", hold: true }, dependsOn: ["b"], idempotencyKey: "key" },
          { id: "d", agent: "s-d", message: { type: "work" }, dependsOn: ["c"], idempotencyKey: "key" },
        ],
      },
    });
    // a and b are done (checkpointed), c is in flight on the victim's behalf
    await eventually(() => heldNow, 30_000, "step c in flight");
    expect((await steps.whereIs(actorId))?.record.nodeId).toBe("wf-victim");
    victim.child.kill("SIGKILL");
    release();

    const workflows = Workflows.client(steps);
    await eventually(async () => (await steps.whereIs(actorId))?.record.nodeId === "wf-survivor", 60_000, () => `failover to the survivor; survivor said: ${survivor.output().slice(-4000)}`);
    const done = await workflows.wait(wid, { timeoutMs: 60_000 });
    expect(done.status).toBe("done");
    expect(Object.values(done.steps).map((s) => s.state)).toEqual(["done", "done", "done", "done"]);
    const count = (list: string[], step: string) => list.filter((k) => k === `${wid}/${step}`).length;
    // completed steps were not asked again; every step's effect ran exactly once
    expect([count(log.asks, "a"), count(log.asks, "b")]).toEqual([1, 1]);
    expect(["a", "b", "c", "d"].map((s) => count(log.effects, s))).toEqual([1, 1, 1, 1]);
    // c, in flight at the kill, was asked again with the same key (the agent answered from its memo)
    expect(count(log.asks, "c")).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
