import { randomUUID } from "node:crypto";
import {
  TETHER_EXT_PREFIX,
  TetherError,
  WorkflowDefinition,
  WorkflowMessage,
  isTetherError,
  stepMessage,
  validateWorkflow,
  type StepRecord,
  type WorkflowStatus,
  type WorkflowStep,
} from "../../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, DeferredReply, TimerHandle } from "../../runtime/index.ts";
import { noApprovals, type WorkflowPort } from "./workflow-port.ts";

export interface WorkflowState {
  type: "tether.workflow.v1.state";
  wid: string;
  name: string;
  status: WorkflowStatus["status"];
  definition: WorkflowDefinition | undefined;
  input: unknown;
  order: string[];
  steps: Record<string, StepRecord>;
  startEct: string | undefined;
}

const initialState = (): WorkflowState => ({ type: "tether.workflow.v1.state", wid: "", name: "", status: "new", definition: undefined, input: undefined, order: [], steps: {}, startEct: undefined });

/** `await` askers kept at most. */
const MAX_WAITERS = 256;

const TERMINAL: ReadonlySet<WorkflowStatus["status"]> = new Set(["done", "failed", "rolled_back"]);

const NO_RETRY = new Set(["ERR_APPROVAL_REJECTED", "ERR_APPROVAL_REVOKED", "ERR_APPROVAL_EXPIRED", "ERR_MESSAGE_INVALID", "ERR_MESSAGE_UNKNOWN_TYPE"]);

/**
 * Runs one workflow (its id is `wf-<wid>`): steps in topological order, as many at once as the DAG
 * and `maxParallel` allow, highest priority first. Its checkpoint (saved after every step) holds the
 * definition, each step's state (pending, running, done, failed, rolled_back), outputs and ECT ids, so
 * when its node dies a survivor re-activates it and carries on: done steps are never asked again; steps
 * that were in flight are asked again (with the same idempotency key, if the step names one).
 *
 * Steps run outside the handler (one actor, many steps in flight); each result comes back as a message,
 * so the state changes one message at a time. Every step is a span carrying the workflow id, and its
 * ECT names its dependencies' ECTs (roots: the workflow's start ECT) as parents.
 */
export class WorkflowActor {
  static readonly protocol = WorkflowMessage;
  static readonly capabilities: readonly string[] = ["workflow"];
  state: WorkflowState = initialState();
  readonly #port: WorkflowPort;
  #self = "";
  readonly #timers = new Set<TimerHandle>();
  /** Askers of `await`, answered when the workflow ends (in memory: a failover makes them ask again). */
  #waiters: DeferredReply[] = [];
  /** The secret of this instance's messages to itself (see `WorkflowMessage`): never sent on the bus. */
  readonly #key = randomUUID();
  #stopped = false;

  constructor(deps: { port: WorkflowPort }) {
    this.#port = deps.port;
  }

  onStart(ctx: ActorLifecycleContext): void {
    this.#self = ctx.self;
    if (this.state?.type !== "tether.workflow.v1.state") this.state = initialState();
    // restored by a survivor (failover) in the middle of a run, or with a step ECT named but maybe not
    // minted (also after the last step): pick up where the checkpoint left off
    const ectPending = Object.values(this.state.steps).some((r) => r.ectPending === true);
    if (this.state.status === "running" || ectPending) this.#port.tell(this.#self, { type: "tether.workflow.v1.resume", key: this.#key });
  }

  onStop(): void {
    this.#stopped = true;
    for (const t of this.#timers) this.#port.clock.clearTimeout(t);
    this.#timers.clear();
    for (const w of this.#waiters.splice(0)) w.reject(new TetherError("ERR_ACTOR_STOPPED", `workflow ${this.state.wid} moved or stopped before it ended; wait again`));
  }

  async handle(msg: WorkflowMessage, ctx: ActorContext): Promise<WorkflowStatus | undefined> {
    const reply = await this.#handle(msg, ctx);
    if (this.#waiters.length > 0 && TERMINAL.has(this.state.status)) {
      const status = this.#status();
      for (const w of this.#waiters.splice(0)) w.resolve(status);
    }
    return reply;
  }

  async #handle(msg: WorkflowMessage, ctx: ActorContext): Promise<WorkflowStatus | undefined> {
    if ("key" in msg && msg.key !== this.#key) {
      // a step outcome, retry or resume that this instance did not send: a forgery (or a stale copy)
      throw new TetherError("ERR_MESSAGE_INVALID", `workflow ${this.state.wid}: ${msg.type} is only accepted from the workflow actor itself`);
    }
    switch (msg.type) {
      case "tether.workflow.v1.await":
        if (TERMINAL.has(this.state.status)) return this.#status();
        // bounded: an asker that timed out and asked again leaves its old reply here; the oldest is let go
        if (this.#waiters.length >= MAX_WAITERS) this.#waiters.shift()?.reject(new TetherError("ERR_ACTOR_STOPPED", `workflow ${this.state.wid}: too many waiters; wait again`));
        this.#waiters.push(ctx.deferReply());
        return undefined;
      case "tether.workflow.v1.start":
        return this.#start(msg.wid, msg.definition, msg.input, ctx);
      case "tether.workflow.v1.status":
        return this.#status();
      case "tether.workflow.v1.resume": {
        // a done step whose ECT was named but maybe not minted when the last owner died: mint it (same jti)
        let minted = false;
        for (const [id, rec] of Object.entries(this.state.steps)) {
          if (rec.state === "done" && rec.ectPending === true) {
            await this.#mintStep(id, rec);
            minted = true;
          }
        }
        if (this.state.status !== "running") {
          if (minted) await ctx.checkpoint();
          return undefined;
        }
        for (const rec of Object.values(this.state.steps)) if (rec.state === "running") rec.state = "pending";
        await this.#launchReady(ctx);
        return undefined;
      }
      case "tether.workflow.v1.step-done":
        await this.#done(msg.step, msg.output, ctx);
        return undefined;
      case "tether.workflow.v1.step-failed":
        await this.#failed(msg.step, msg.attempt, msg.code, msg.message, ctx);
        return undefined;
      case "tether.workflow.v1.retry": {
        const rec = this.state.steps[msg.step];
        if (rec === undefined || rec.state !== "running" || rec.attempts !== msg.attempt) return undefined;
        rec.attempts += 1;
        await ctx.checkpoint();
        this.#run(msg.step, rec.attempts);
        return undefined;
      }
    }
  }

  get #definition(): WorkflowDefinition {
    return this.state.definition as WorkflowDefinition;
  }

  #step(id: string): WorkflowStep {
    return this.#definition.steps.find((s) => s.id === id) as WorkflowStep;
  }

  #status(): WorkflowStatus {
    const deps: Record<string, string[]> = {};
    for (const s of this.state.definition?.steps ?? []) deps[s.id] = [...s.dependsOn];
    return structuredClone({
      wid: this.state.wid,
      name: this.state.name,
      status: this.state.status,
      order: this.state.order,
      dependsOn: deps,
      steps: this.state.steps,
      ...(this.state.startEct === undefined ? {} : { startEct: this.state.startEct }),
    });
  }

  async #start(wid: string, input: unknown, workflowInput: unknown, ctx: ActorContext): Promise<WorkflowStatus> {
    if (this.state.status !== "new") return this.#status(); // started already: starting twice is harmless
    const { definition, order } = validateWorkflow(input);
    this.state = {
      type: "tether.workflow.v1.state",
      wid,
      name: definition.name,
      status: "running",
      definition: WorkflowDefinition.parse(definition),
      input: workflowInput ?? null,
      order,
      steps: Object.fromEntries(order.map((id) => [id, { state: "pending", attempts: 0 } satisfies StepRecord])),
      startEct: undefined,
    };
    const ect = await this.#port.mint({ actorId: this.#self, act: "workflow.start", par: [], wid, input: { name: definition.name, input: workflowInput ?? null }, ext: { [`${TETHER_EXT_PREFIX}workflow`]: definition.name } });
    this.state.startEct = ect.jti;
    await this.#launchReady(ctx);
    return this.#status();
  }

  /** Marks every ready step running (within maxParallel), saves that, then dispatches them. */
  async #launchReady(ctx: ActorContext): Promise<void> {
    // the checkpoint's snapshot is taken now; the next steps go out while it is written (a copy that
    // dies before it lands is resumed from the previous checkpoint, where these steps were pending or
    // in flight: asked again either way, never skipped; no step was done in between). Saves one
    // JetStream round trip per launch.
    const launch = this.#markReady();
    const saved = ctx.checkpoint();
    this.#send(launch);
    await saved;
  }

  /** Marks every ready step running (within maxParallel); returns them for `#send` once saved. */
  #markReady(): [string, number][] {
    const steps = this.state.steps;
    let running = Object.values(steps).filter((s) => s.state === "running").length;
    const launch: [string, number][] = [];
    for (const id of this.state.order) {
      if (running >= this.#definition.maxParallel) break;
      const rec = steps[id] as StepRecord;
      if (rec.state !== "pending" || !this.#step(id).dependsOn.every((d) => steps[d]?.state === "done")) continue;
      rec.state = "running";
      rec.attempts += 1;
      rec.startedAt = this.#port.clock.now();
      launch.push([id, rec.attempts]);
      running++;
    }
    if (Object.values(steps).every((s) => s.state === "done")) this.state.status = "done";
    return launch;
  }

  #send(launch: [string, number][]): void {
    for (const [id, attempt] of launch) this.#run(id, attempt);
  }

  /** Runs one step outside the handler; its outcome comes back as a message. */
  #run(id: string, attempt: number): void {
    const step = this.#step(id);
    const wid = this.state.wid;
    const outputs: Record<string, unknown> = {};
    for (const [sid, rec] of Object.entries(this.state.steps)) if (rec.state === "done") outputs[sid] = rec.output;
    const input = this.state.input;
    const work = async (): Promise<unknown> => {
      if (step.gate !== undefined) await this.#gate(step, wid);
      const target = step.agent ?? (await this.#port.findCapability(step.capability ?? ""));
      if (target === undefined) throw new TetherError("ERR_ACTOR_NOT_FOUND", `no live actor has capability ${step.capability}`);
      const msg = stepMessage(step, input, outputs);
      if (step.idempotencyKey !== undefined) msg[step.idempotencyKey] = `${wid}/${id}`;
      return this.#port.ask(target, msg, step.timeoutMs);
    };
    void this.#port
      .traced("workflow.step", { "tether.workflow.id": wid, "tether.workflow.step": id, "tether.workflow.attempt": attempt }, work)
      .then(
        (output) => this.#tellSelf({ type: "tether.workflow.v1.step-done", key: this.#key, step: id, attempt, ...(output === undefined ? {} : { output }) }),
        (error: unknown) =>
          this.#tellSelf({
            type: "tether.workflow.v1.step-failed",
            key: this.#key,
            step: id,
            attempt,
            code: isTetherError(error) ? error.code : "ERR_ACTOR_HANDLER_FAILED",
            message: (error instanceof Error ? error.message : String(error)).slice(0, 1024),
          }),
      );
  }

  async #gate(step: WorkflowStep, wid: string): Promise<void> {
    const approvals = this.#port.approvals;
    if (approvals === undefined) throw noApprovals();
    const gate = step.gate as NonNullable<WorkflowStep["gate"]>;
    const opened = await approvals.open({
      policy: { id: `workflow:${step.id}`, action: step.id, gate },
      actorId: this.#self,
      action: `${this.state.name}.${step.id}`,
      wid,
      explanation: { summary: `workflow ${this.state.name} (${wid}) wants to run step ${step.id}`, inputs: { message: step.message }, evidence: this.state.startEct === undefined ? [] : [this.state.startEct] },
      parentJti: this.state.startEct,
    });
    if (opened.status === "notified") return;
    const decided = opened.status === "pending" ? await approvals.wait(opened.id, new AbortController().signal) : opened;
    if (decided.status !== "approved") throw new TetherError("ERR_APPROVAL_REJECTED", `step ${step.id} was ${decided.status} (approval ${decided.id})`, { details: { approval: decided.id } });
    await approvals.consume(decided.id);
  }

  #resumeLater(): void {
    const timer = this.#port.clock.setTimeout(() => {
      this.#timers.delete(timer);
      this.#tellSelf({ type: "tether.workflow.v1.resume", key: this.#key });
    }, 1_000);
    this.#timers.add(timer);
  }

  #tellSelf(msg: WorkflowMessage): void {
    if (this.#stopped) return;
    try {
      this.#port.tell(this.#self, msg);
    } catch {
      /* stopping: the next owner resumes from the checkpoint */
    }
  }

  async #done(id: string, output: unknown, ctx: ActorContext): Promise<void> {
    const rec = this.state.steps[id];
    if (rec === undefined || rec.state !== "running") return; // a late copy of a result already recorded
    // The step is done only once a checkpoint says so: its dependants go out after that save, so a
    // copy that dies at any point never asks a done step again. The step's ECT is named now and minted
    // beside the save (the dependants only need its jti, their parent); the saved state marks it
    // pending until minted, and a next owner mints it again under the same jti (the store keeps one).
    rec.state = "done";
    rec.output = output;
    rec.ect = randomUUID();
    rec.ectPending = true;
    rec.endedAt = this.#port.clock.now();
    const launch = this.#markReady();
    const saved = ctx.checkpoint();
    const minted = this.#mintStep(id, rec);
    minted.catch(() => undefined); // awaited below; not unhandled if the save throws first
    try {
      await saved;
    } catch (error) {
      // not saved: the dependants were never sent; put them back and resume (which saves again) shortly
      for (const [sid] of launch) {
        const r = this.state.steps[sid] as StepRecord;
        r.state = "pending";
        r.attempts -= 1;
      }
      this.#resumeLater();
      throw error;
    }
    this.#send(launch);
    await minted;
    if (this.state.status !== "running") await ctx.checkpoint(); // the last step: keep "minted" too
  }

  async #mintStep(id: string, rec: StepRecord): Promise<void> {
    const step = this.#step(id);
    const parents = step.dependsOn.length === 0 ? [this.state.startEct] : step.dependsOn.map((d) => this.state.steps[d]?.ect);
    await this.#port.mint({
      jti: rec.ect as string,
      actorId: this.#self,
      act: `workflow.step:${id}`,
      par: parents.filter((p): p is string => p !== undefined),
      wid: this.state.wid,
      input: step.message,
      output: rec.output ?? null,
      ext: { [`${TETHER_EXT_PREFIX}step`]: id, [`${TETHER_EXT_PREFIX}agent`]: step.agent ?? `capability:${step.capability}` },
    });
    delete rec.ectPending;
  }

  async #failed(id: string, attempt: number, code: string, message: string, ctx: ActorContext): Promise<void> {
    const rec = this.state.steps[id];
    if (rec === undefined || rec.state !== "running" || rec.attempts !== attempt) return;
    const step = this.#step(id);
    if (rec.attempts < step.retry.maxAttempts && !NO_RETRY.has(code)) {
      const timer = this.#port.clock.setTimeout(() => {
        this.#timers.delete(timer);
        this.#tellSelf({ type: "tether.workflow.v1.retry", key: this.#key, step: id, attempt });
      }, step.retry.backoffMs);
      this.#timers.add(timer);
      return;
    }
    rec.state = "failed";
    rec.error = { code, message };
    rec.endedAt = this.#port.clock.now();
    const ect = await this.#port.mint({
      actorId: this.#self,
      act: `workflow.step:${id}`,
      par: (step.dependsOn.length === 0 ? [this.state.startEct] : step.dependsOn.map((d) => this.state.steps[d]?.ect)).filter((p): p is string => p !== undefined),
      wid: this.state.wid,
      input: step.message,
      outcome: "failed",
      ext: { [`${TETHER_EXT_PREFIX}step`]: id, [`${TETHER_EXT_PREFIX}error`]: code },
    });
    rec.ect = ect.jti;
    this.state.status = "failed";
    await ctx.checkpoint();
    if (this.#definition.onFailure === "compensate") await this.#compensate(ctx);
  }

  /** Undoes the done steps that declare a compensation, in reverse topological order. */
  async #compensate(ctx: ActorContext): Promise<void> {
    for (const id of [...this.state.order].reverse()) {
      const rec = this.state.steps[id] as StepRecord;
      const step = this.#step(id);
      if (rec.state !== "done" || step.compensation === undefined) continue;
      const target = step.compensation.agent ?? step.agent;
      if (target === undefined) continue;
      const msg: Record<string, unknown> = { ...step.compensation.message };
      if (step.idempotencyKey !== undefined) msg[step.idempotencyKey] = `${this.state.wid}/${id}/undo`;
      await this.#port.ask(target, msg, step.timeoutMs);
      rec.state = "rolled_back";
      await ctx.checkpoint();
    }
    this.state.status = "rolled_back";
    await ctx.checkpoint();
  }
}
