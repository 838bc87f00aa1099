import { describe, expect, it } from "vitest";
import { WorkflowActor, type WorkflowPort, type WorkflowState } from "../../actors/index.ts";
import type { WorkflowMessage } from "../../protocols/index.ts";
import { FakeClock, type ActorContext, type ActorLifecycleContext } from "../../runtime/index.ts";

/** A workflow actor on a fake port: records asks, mints and every checkpoint's snapshot; saves land when the test says. */
const harness = () => {
  const clock = new FakeClock(0);
  const asks: string[] = [];
  const minted: string[] = [];
  const told: WorkflowMessage[] = [];
  const answers = new Map<string, (output: unknown) => void>();
  const saves: { snapshot: WorkflowState; land: () => void; fail: (e: unknown) => void }[] = [];
  const port: WorkflowPort = {
    clock,
    ask: (actorId) => {
      asks.push(actorId);
      return new Promise((resolve) => answers.set(actorId, resolve)); // answered by the test (`result`)
    },
    tell: (_id, msg) => void told.push(msg as WorkflowMessage),
    findCapability: () => Promise.resolve(undefined),
    mint: (p) => {
      const jti = p.jti ?? `start-${minted.length}`;
      minted.push(jti);
      return Promise.resolve({ jti, token: "t", level: "L1" });
    },
    traced: (_name, _attrs, work) => work(),
    approvals: undefined,
  };
  const actor = new WorkflowActor({ port });
  const answered: unknown[] = [];
  const ctx = {
    checkpoint: () =>
      new Promise<number>((resolve, reject) => {
        saves.push({ snapshot: structuredClone(actor.state), land: () => resolve(saves.length), fail: reject });
      }),
    deferReply: () => ({ resolve: (v: unknown) => answered.push(v), reject: (e: unknown) => answered.push(e) }),
  } as unknown as ActorContext;
  actor.onStart({ self: "wf-1" } as ActorLifecycleContext);
  const landAll = () => {
    for (const s of saves.splice(0)) s.land();
  };
  return { actor, ctx, asks, minted, told, saves, landAll, answered, answers, clock };
};

const chain = {
  name: "chain",
  steps: [
    { id: "a", agent: "s-a", message: { type: "work" } },
    { id: "b", agent: "s-b", message: { type: "work" }, dependsOn: ["a"] },
  ],
};

const settle = () => new Promise((r) => setImmediate(r));

/** Lets `agent` answer its step: returns the step-done message the actor told itself (with its key). */
const result = async (h: ReturnType<typeof harness>, agent: string, output: unknown): Promise<WorkflowMessage> => {
  h.answers.get(agent)?.(output);
  await settle();
  const msg = h.told.findLast((m) => m.type === "tether.workflow.v1.step-done");
  if (msg === undefined) throw new Error(`no step-done told for ${agent}`);
  return msg;
};

/** Starts the chain on a harness, letting its first checkpoint land. */
const start = async (h: ReturnType<typeof harness>): Promise<void> => {
  const started = h.actor.handle({ type: "tether.workflow.v1.start", wid: "w1", definition: chain }, h.ctx);
  await settle();
  h.landAll();
  await started;
};

describe("the workflow actor: checkpoints, dispatch order, await", () => {
  it("asks a dependant only after a checkpoint that records its dependency as done has landed", async () => {
    const h = harness();
    await start(h);
    await settle();
    expect(h.asks).toEqual(["s-a"]);

    const done = h.actor.handle(await result(h, "s-a", { v: 1 }), h.ctx);
    await settle();
    // b is marked running in the snapshot being saved, with a done, but not asked before the save lands
    expect(h.asks).toEqual(["s-a"]);
    const pending = h.saves.at(-1)?.snapshot;
    expect(pending?.steps["a"]).toMatchObject({ state: "done", ectPending: true });
    expect(pending?.steps["b"]?.state).toBe("running");
    h.landAll();
    await done;
    expect(h.asks).toEqual(["s-a", "s-b"]);
    // the ECT named in the checkpoint is the one minted, and it is no longer pending in memory
    expect(h.minted).toContain(h.actor.state.steps["a"]?.ect);
    expect(h.actor.state.steps["a"]?.ectPending).toBeUndefined();
  });

  it("a resuming owner mints a done step's pending ECT again under the same jti and re-asks only the step in flight", async () => {
    const h = harness();
    await start(h);
    const done = h.actor.handle(await result(h, "s-a", { v: 1 }), h.ctx);
    await settle();
    const saved = h.saves.at(-1)?.snapshot as WorkflowState; // the copy dies here, with this checkpoint landed
    h.landAll();
    await done;

    const next = harness();
    next.actor.state = structuredClone(saved);
    next.actor.onStart({ self: "wf-1" } as ActorLifecycleContext);
    expect(next.told).toMatchObject([{ type: "tether.workflow.v1.resume" }]);
    const resumed = next.actor.handle(next.told[0] as WorkflowMessage, next.ctx);
    await settle();
    next.landAll();
    await resumed;
    expect(next.minted).toEqual([saved.steps["a"]?.ect]);
    expect(next.asks).toEqual(["s-b"]); // a is never asked again
  });

  it("answers await when the workflow ends, after its last checkpoint, and at once once it has ended", async () => {
    const h = harness();
    await start(h);
    expect(await h.actor.handle({ type: "tether.workflow.v1.await" }, h.ctx)).toBeUndefined(); // deferred
    for (const step of ["a", "b"]) {
      const done = h.actor.handle(await result(h, `s-${step}`, { v: 1 }), h.ctx);
      for (let i = 0; i < 3; i++) {
        await settle();
        h.landAll();
      }
      await done;
      if (step === "a") expect(h.answered).toEqual([]);
    }
    expect(h.answered).toMatchObject([{ wid: "w1", status: "done" }]);
    expect(await h.actor.handle({ type: "tether.workflow.v1.await" }, h.ctx)).toMatchObject({ status: "done" });
  });

  it("tells await askers to ask again when the actor stops before the workflow ends", async () => {
    const h = harness();
    await start(h);
    await h.actor.handle({ type: "tether.workflow.v1.await" }, h.ctx);
    h.actor.onStop();
    expect(h.answered).toMatchObject([{ code: "ERR_ACTOR_STOPPED" }]);
  });

  it("refuses a step outcome, retry or resume it did not send itself (anyone on the bus could send one)", async () => {
    const h = harness();
    await start(h);
    const genuine = await result(h, "s-a", { v: 1 });
    const forged: WorkflowMessage[] = [
      { ...genuine, key: "guessed" } as WorkflowMessage,
      { type: "tether.workflow.v1.step-failed", key: "guessed", step: "a", attempt: 1, code: "ERR_X", message: "made up" },
      { type: "tether.workflow.v1.retry", key: "guessed", step: "a", attempt: 1 },
      { type: "tether.workflow.v1.resume", key: "guessed" },
    ];
    for (const msg of forged) await expect(h.actor.handle(msg, h.ctx)).rejects.toMatchObject({ code: "ERR_MESSAGE_INVALID" });
    expect(h.actor.state.steps["a"]).toMatchObject({ state: "running", attempts: 1 });
    expect(h.asks).toEqual(["s-a"]);
  });

  it("mints the last step's pending ECT when restored after the workflow was already done", async () => {
    const h = harness();
    await start(h);
    for (const agent of ["s-a", "s-b"]) {
      const done = h.actor.handle(await result(h, agent, { v: 1 }), h.ctx);
      for (let i = 0; i < 3; i++) {
        await settle();
        h.landAll();
      }
      await done;
    }
    expect(h.actor.state.status).toBe("done");
    const restored = structuredClone(h.actor.state);
    (restored.steps["b"] as { ectPending?: boolean }).ectPending = true; // as if the copy died before the mint landed
    const next = harness();
    next.actor.state = restored;
    next.actor.onStart({ self: "wf-1" } as ActorLifecycleContext);
    expect(next.told).toMatchObject([{ type: "tether.workflow.v1.resume" }]);
    const resumed = next.actor.handle(next.told[0] as WorkflowMessage, next.ctx);
    await settle();
    next.landAll();
    await resumed;
    expect(next.minted).toEqual([restored.steps["b"]?.ect]);
    expect(next.asks).toEqual([]); // nothing asked again
    expect(next.actor.state.steps["b"]?.ectPending).toBeUndefined();
  });

  it("when the save that marks a step done fails, its dependants are not sent, go back to pending, and a resume follows", async () => {
    const h = harness();
    await start(h);
    const done = h.actor.handle(await result(h, "s-a", { v: 1 }), h.ctx);
    await settle();
    h.saves.splice(0).forEach((s) => s.fail(new Error("KV timeout")));
    await expect(done).rejects.toThrow(/KV timeout/);
    expect(h.asks).toEqual(["s-a"]);
    expect(h.actor.state.steps["b"]).toMatchObject({ state: "pending", attempts: 0 });
    h.clock.advance(1_000);
    const resume = h.told.findLast((m) => m.type === "tether.workflow.v1.resume");
    expect(resume).toBeDefined();
    const resumed = h.actor.handle(resume as WorkflowMessage, h.ctx);
    await settle();
    h.landAll();
    await resumed;
    expect(h.asks).toEqual(["s-a", "s-b"]);
  });
});
