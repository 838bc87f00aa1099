import { describe, expect, it } from "vitest";
import { TetherError, type ControlEnvelope, type FailureNotice, type SupervisorCheckpoint, type SupervisorMessage } from "../../../protocols/index.ts";
import { FakeClock, MetricNames, TetherMetrics, type ActorContext, type ActorRef } from "../../../runtime/index.ts";
import { SupervisorActor, constantBackoff, defineSupervisor, type SupervisionPort, type SupervisorEvent, type SupervisorSpec } from "../../../supervisors/index.ts";
import { TestMeters } from "../../support/metrics.ts";
import { codeOf } from "./support.ts";

class Worker {
  state = 0;
  handle(): void {}
}

/** An in-memory network: which node runs each actor, which nodes are dead; no NATS. */
class FakePort implements SupervisionPort {
  readonly nodeId = "here";
  readonly clock = new FakeClock(1_000_000);
  /** A real SDK provider, not the global one: restarts are counted through the port. */
  readonly meters = new TestMeters();
  readonly metrics = new TetherMetrics(this.meters.provider, { network: "default", node: "here" });
  readonly placement = new Map<string, string>();
  readonly dead = new Set<string>();
  readonly told: SupervisorMessage[] = [];
  readonly spawned: string[] = [];
  readonly stopped: string[] = [];
  failureListener: ((n: FailureNotice) => void) | undefined;

  ref(id: string): ActorRef {
    return {
      id,
      tell: (msg) => this.told.push(msg as SupervisorMessage) > 0,
      ready: async () => undefined,
      ask: async () => undefined,
      send: async () => ({ id: "", duplicate: false }),
    };
  }
  async spawn(): Promise<unknown> {
    throw new Error("no nested supervisors here");
  }
  async spawnInstance(id: string): Promise<unknown> {
    const owner = this.placement.get(id);
    if (owner !== undefined && !this.dead.has(owner)) throw new TetherError("ERR_ACTOR_ALREADY_ACTIVE", `${id} runs on ${owner}`);
    this.placement.set(id, this.nodeId);
    this.spawned.push(id);
    return undefined;
  }
  hosts(id: string): boolean {
    return this.placement.get(id) === this.nodeId;
  }
  async stopActor(id: string): Promise<void> {
    this.placement.delete(id);
    this.stopped.push(id);
  }
  async whereIs(id: string) {
    const nodeId = this.placement.get(id);
    if (nodeId === undefined) return undefined;
    return { record: { actorId: id, nodeId } as never, alive: !this.dead.has(nodeId) };
  }
  async controlNode(nodeId: string, request: { type: string; actorId: string }): Promise<void> {
    if (this.dead.has(nodeId)) throw new TetherError("ERR_ACTOR_NOT_FOUND", `node ${nodeId} did not answer`);
    if (request.type === "tether.node.v1.activate") this.placement.set(request.actorId, nodeId);
    else this.placement.delete(request.actorId);
  }
  async signShutdown(supervisor: string): Promise<ControlEnvelope> {
    return { type: "tether.control.v1.signed", token: `stop:${supervisor}` };
  }
  async verifyShutdown(envelope: unknown, supervisor: string): Promise<void> {
    if ((envelope as ControlEnvelope).token !== `stop:${supervisor}`) throw new TetherError("ERR_CONTROL_SIGNATURE_INVALID", "not signed");
  }
  watchFailures(_ids: readonly string[], listener: (n: FailureNotice) => void): () => void {
    this.failureListener = listener;
    return () => (this.failureListener = undefined);
  }
  async recordEvent(): Promise<unknown> {
    return undefined;
  }
  async listCompensableBy() {
    return [];
  }
  traced<T>(_name: string, _attributes: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T> {
    return work();
  }
  async rollback(): Promise<never> {
    throw new Error("no rollback here");
  }
}

const tree = defineSupervisor({
  id: "tree",
  intensity: { maxRestarts: 1, withinMs: 60_000 },
  backoff: constantBackoff({ delayMs: 0 }),
  children: [
    { id: "a", start: () => new Worker() },
    { id: "b", start: () => new Worker(), node: "there" },
  ],
});

const setUp = (spec: SupervisorSpec = tree) => {
  const port = new FakePort();
  port.placement.set(spec.id, port.nodeId); // the supervisor itself runs here
  const events: SupervisorEvent[] = [];
  const actor = new SupervisorActor({
    port,
    resolve: (id) => (id === spec.id ? { spec, parent: undefined, watchMs: 1_000, random: () => 0 } : undefined),
    emit: (e) => events.push(e),
    attached: () => undefined,
  });
  let checkpoints = 0;
  const ctx = { checkpoint: async () => ++checkpoints } as unknown as ActorContext;
  const lifecycle = { self: spec.id, nodeId: port.nodeId, network: "default", log: undefined as never, clock: port.clock };
  return { port, events, actor, ctx, lifecycle, checkpoints: () => checkpoints };
};

const restoredState = (children: SupervisorCheckpoint["children"]): SupervisorCheckpoint => ({
  type: "tether.supervisor.v1.state",
  phase: "running",
  children,
  restartTimes: [],
  restarts: 0,
});

describe("SupervisorActor", () => {
  it("starts its children in order, placing each where its spec says, and checkpoints as it goes", async () => {
    const { port, actor, ctx, lifecycle, checkpoints } = setUp();
    actor.onStart(lifecycle);
    expect(port.told).toEqual([]); // a fresh supervisor waits for `start`
    const status = await actor.handle({ type: "tether.supervisor.v1.start" }, ctx);
    expect(status).toMatchObject({ supervisor: "tree", phase: "running", children: ["a", "b"] });
    expect([port.placement.get("a"), port.placement.get("b")]).toEqual(["here", "there"]);
    expect(actor.state.children["b"]?.node).toBe("there");
    expect(checkpoints()).toBeGreaterThanOrEqual(4); // starting, after each child, running
  });

  it("restored on another node, keeps the children alive elsewhere and restarts those lost with its old node, here", async () => {
    const { port, events, actor, ctx, lifecycle } = setUp();
    port.placement.set("a", "gone").set("b", "there");
    port.dead.add("gone");
    actor.state = restoredState({ a: { kind: "worker", node: "gone", startedAt: 1 }, b: { kind: "worker", node: "there", startedAt: 1 } });
    actor.onStart(lifecycle);
    expect(port.told).toEqual([{ type: "tether.supervisor.v1.reconcile", key: expect.any(String) }]); // re-attaches as its first message
    await actor.handle(port.told[0] as SupervisorMessage, ctx);
    expect(events[0]).toEqual({ type: "took-over", supervisor: "tree", kept: ["b"], lost: ["a"] });
    expect(events.at(-1)).toMatchObject({ type: "children-restarted", children: ["a"] });
    expect(port.placement.get("a")).toBe("here");
    expect(actor.state.children["a"]?.node).toBe("here");
    expect(actor.state).toMatchObject({ phase: "running", restarts: 1 });
    expect(await port.meters.total(MetricNames.actorRestarts, { "tether.supervisor.id": "tree", "tether.node": "here" })).toBe(1);
    expect(actor.state.restartTimes).toHaveLength(1); // checkpointed: the next host keeps counting
  });

  it("keeps counting restarts across a takeover: the checkpointed history counts against the intensity", async () => {
    const { port, events, actor, ctx, lifecycle } = setUp();
    port.placement.set("a", "here").set("b", "there");
    actor.state = { ...restoredState({ a: { kind: "worker", node: "here", startedAt: 1 }, b: { kind: "worker", node: "there", startedAt: 1 } }), restartTimes: [port.clock.now() - 1_000] };
    actor.onStart(lifecycle);
    const { key } = port.told[0] as { key: string }; // the secret its own messages carry (here: the reconcile it queued)
    await actor.handle({ type: "tether.supervisor.v1.child_failed", child: "a", nodeId: "here", code: "ERR_ACTOR_HANDLER_FAILED", key }, ctx);
    expect(events.map((e) => e.type)).toEqual(["child-failed", "gave-up"]); // maxRestarts 1: the earlier restart plus this one
    expect(actor.state.phase).toBe("gave_up");
    expect(port.placement.has("b")).toBe(false); // stopped on its node
    expect(port.stopped).toEqual(["a", "tree"]); // then the local child, then itself
  });

  it("relays failure notices to its own mailbox and ignores one from a copy it no longer tracks", async () => {
    const { port, events, actor, ctx, lifecycle } = setUp();
    actor.onStart(lifecycle);
    await actor.handle({ type: "tether.supervisor.v1.start" }, ctx);
    port.failureListener?.({ type: "tether.node.v1.failure", actorId: "b", nodeId: "elsewhere", messageId: "m1", code: "ERR_ACTOR_HANDLER_FAILED" });
    expect(port.told).toEqual([{ type: "tether.supervisor.v1.child_failed", child: "b", nodeId: "elsewhere", code: "ERR_ACTOR_HANDLER_FAILED", key: expect.any(String) }]);
    const relayed = port.told[0] as Extract<SupervisorMessage, { type: "tether.supervisor.v1.child_failed" }>;
    await actor.handle(relayed, ctx);
    expect(events).toEqual([]); // b runs on "there": the notice is stale
    // sent to the supervisor by anyone else on the bus (without its secret): ignored, not thrown
    expect(await actor.handle({ type: "tether.supervisor.v1.child_failed", child: "b", nodeId: "there", code: "ERR_ACTOR_HANDLER_FAILED", key: "guess" }, ctx)).toBeUndefined();
    expect(events).toEqual([]);
    await actor.handle({ ...relayed, nodeId: "there" }, ctx);
    expect(events.map((e) => e.type)).toEqual(["child-failed", "children-restarted"]);
  });

  it("restarts a nested supervisor on child_escalated only when the child says it escalated (the message can come from anyone)", async () => {
    const { port, events, actor, ctx, lifecycle } = setUp();
    actor.onStart(lifecycle);
    await actor.handle({ type: "tether.supervisor.v1.start" }, ctx);
    let phase = "running";
    port.ref = (id: string) => ({ id, tell: () => true, ready: async () => undefined, send: async () => ({ id: "", duplicate: false }), ask: async () => ({ supervisor: id, nodeId: "there", phase, children: [], restarts: 0 }) }) as ActorRef;
    await actor.handle({ type: "tether.supervisor.v1.child_escalated", child: "b" }, ctx);
    expect(events).toEqual([]); // b answers "running": a forged notice
    phase = "escalated";
    await actor.handle({ type: "tether.supervisor.v1.child_escalated", child: "b" }, ctx);
    expect(events.map((e) => e.type)).toEqual(["child-failed", "children-restarted"]);
  });

  it("replaces a checkpoint it cannot read, then finds its children again by id (alive ones adopted, missing ones started)", async () => {
    const { port, events, actor, ctx, lifecycle } = setUp();
    port.placement.set("b", "there");
    actor.state = { phase: "running", children: "garbage" } as never;
    actor.onStart(lifecycle);
    await actor.handle(port.told[0] as SupervisorMessage, ctx);
    expect(actor.state.phase).toBe("running");
    expect(Object.keys(actor.state.children)).toEqual(["a", "b"]);
    expect(port.spawned).toEqual(["a"]);
    expect(events[0]).toMatchObject({ type: "took-over" });
  });

  it("stops relaying failure notices once its node no longer hosts it (fenced: taken over elsewhere)", async () => {
    const { port, actor, ctx, lifecycle } = setUp();
    actor.onStart(lifecycle);
    await actor.handle({ type: "tether.supervisor.v1.start" }, ctx);
    port.placement.set("tree", "elsewhere");
    port.failureListener?.({ type: "tether.node.v1.failure", actorId: "a", nodeId: "here", messageId: "m1", code: "ERR_ACTOR_HANDLER_FAILED" });
    expect(port.told).toEqual([]);
    expect(port.failureListener).toBeUndefined();
    expect(port.clock.pending).toBe(0); // its reconcile timer is gone too
  });

  it("refuses to start on a node that does not know its tree (ERR_SUPERVISOR_SPEC_UNKNOWN)", () => {
    const { actor, lifecycle } = setUp();
    let error: unknown;
    try {
      actor.onStart({ ...lifecycle, self: "unknown-tree" });
    } catch (e) {
      error = e;
    }
    expect(codeOf(error)).toBe("ERR_SUPERVISOR_SPEC_UNKNOWN");
  });
});
