import {
  OVERRIDE_ACTOR_ID,
  OverrideRequest,
  TetherError,
  isStanding,
  type ActiveOverride,
  type ActorRecord,
  type ControlEnvelope,
  type IssueReply,
  type OverrideLiftBody,
  type OverrideScope,
  type OverrideSignalBody,
  type VerifiedControl,
} from "../../protocols/index.ts";
import type { ActorContext, TimerHandle } from "../../runtime/index.ts";
import { Actor } from "../actor.ts";
import { CoverageTally } from "./coverage.ts";
import type { OverridePorts } from "./override-ports.ts";

/** The actors a scope is expected to reach, from the registry (null: not knowable in advance). */
export const expectedActors = (scope: OverrideScope, actors: readonly ActorRecord[], exempt: readonly string[]): string[] | null => {
  const open = actors.filter((a) => a.actorId !== OVERRIDE_ACTOR_ID && !exempt.includes(a.actorId));
  switch (scope.kind) {
    case "agent":
      return [scope.id];
    case "workflow":
      return null;
    case "subtree":
      return [...new Set([scope.id, ...scope.members])];
    case "capability":
      return open.filter((a) => a.capabilities.includes(scope.capability)).map((a) => a.actorId);
    case "node":
      return open.filter((a) => a.nodeId === scope.id).map((a) => a.actorId);
    case "network":
      return open.map((a) => a.actorId);
  }
};

const sameScope = (a: OverrideScope, b: OverrideScope): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The override actor: one per network (id `tether-override`), supervised and failing over like any
 * actor (register it with `registerType` on every node). It owns the set of active overrides, kept in
 * JetStream KV so that it survives this actor and every node: it checks each operator-signed request,
 * persists it, records it in the audit ledger, broadcasts the signed token on the priority subject
 * every node listens to, tracks acknowledgements against the actors the scope names, and escalates a
 * signal not fully acknowledged by its deadline (ledger record `override.escalated` and an escalation
 * message). Rollback runs here, through the node's rollback coordinator.
 */
export class OverrideActor extends Actor<OverrideRequest, undefined> {
  static override readonly protocol = OverrideRequest;
  readonly #ports: OverridePorts;
  readonly #tracking = new Map<string, { stop: () => void; timer: TimerHandle }>();
  /** Workflow-scoped standing signals: every actor caught so far, kept in the KV record (`caught`) for fencing. */
  readonly #caught = new Map<string, { actors: Set<string>; stop: () => void; writing: Promise<void> | undefined; dirty: boolean }>();

  constructor(ports: OverridePorts) {
    super();
    this.#ports = ports;
  }

  async handle(msg: OverrideRequest, _ctx: ActorContext): Promise<unknown> {
    switch (msg.type) {
      case "tether.override.v1.issue":
        return this.#issue(msg.envelope);
      case "tether.override.v1.lift-request":
        return this.#lift(msg.envelope);
      case "tether.override.v1.list":
        return (await this.#ports.store.list()).map((r) => ({ id: r.id, signal: r.signal, by: r.by, at: r.at, expected: r.expected?.length ?? null }));
      case "tether.override.v1.work-result": {
        // signed by the person who did the work (a role that may take over), checked like a signal:
        // a result from anyone else on the bus would answer the asker and be recorded as the outcome
        const v = await this.#ports.verify(msg.envelope);
        if (v.body.type !== "tether.override.v1.task-result") throw new TetherError("ERR_OVERRIDE_INVALID", "work-result takes a signed task result");
        const { taskId, result } = v.body;
        const by = v.owner;
        const task = await this.#ports.completeTask(taskId);
        const at = this.#ports.clock.now();
        // the human's result answers the original asker (when it still waits), and is recorded as the outcome
        const answered = task.awaitsReply === true ? await this.#ports.announceTaskDone({ type: "tether.override.v1.task-done", taskId: task.taskId, actorId: task.actorId, envelope: msg.envelope, by, at }) : false;
        await this.#ports.recordEvent("override.task.done", task.overrideId, { task: task.taskId, actorId: task.actorId, messageId: task.messageId, wid: task.wid ?? null, by: { kid: v.kid, role: v.role, owner: v.owner }, result, at, answered });
        return { task, recorded: true, answered, by };
      }
    }
  }

  /**
   * A new owner (failover, migration, or a restart of the network) re-arms the acknowledgement
   * deadlines of the standing signals issued before it and not yet settled: it asks every node which
   * actors hold them (those acknowledged to the previous owner), keeps watching for the rest, and
   * escalates at the original deadline (at once if it already passed) those still missing.
   */
  override onStart(): void {
    void this.#rearm().catch((error: unknown) => void this.#ports.recordEvent("override.rearm.failed", OVERRIDE_ACTOR_ID, { error: String(error).slice(0, 1024), at: this.#ports.clock.now() }).catch(() => undefined));
  }

  async #rearm(): Promise<void> {
    const records = await this.#ports.store.list();
    for (const r of records) if (r.signal.scope.kind === "workflow" && isStanding(r.signal.action)) this.#watchCaught(r.id, r.caught ?? []);
    const open = records.filter((r) => r.expected !== null && r.settledAt === undefined && !this.#tracking.has(`${r.id}:${r.signal.action}`));
    if (open.length === 0) return;
    const now = this.#ports.clock.now();
    const holders = this.#ports.queryHolding(open.map((r) => r.id));
    for (const r of open) {
      const ready = holders.then((all) => {
        for (const [actorId, nodeId] of all.get(r.id) ?? []) {
          tally.add({ type: "tether.override.v1.ack", overrideId: r.id, actorId, nodeId, at: now, outcome: "applied", aborted: false, queued: 0, fenced: false });
        }
      });
      const tally = this.#track(r.id, r.signal.action, Math.max(0, r.at + r.signal.ackDeadlineMs - now), ready);
      tally.expect(r.expected);
    }
  }

  /** Follows the acknowledgements of a workflow-scoped signal until it is lifted, persisting who was caught. */
  #watchCaught(id: string, known: readonly string[]): void {
    if (this.#caught.has(id)) return;
    const entry = { actors: new Set(known), stop: (): void => undefined, writing: undefined as Promise<void> | undefined, dirty: false };
    const persist = (): void => {
      if (entry.writing !== undefined) {
        entry.dirty = true;
        return;
      }
      entry.dirty = false;
      entry.writing = this.#ports.store
        .amend(id, (record) => ({ ...record, caught: [...entry.actors].slice(0, 100_000) }))
        .then(() => undefined, () => undefined)
        .finally(() => {
          entry.writing = undefined;
          if (entry.dirty && this.#caught.get(id) === entry) persist();
        });
    };
    entry.stop = this.#ports.watchAcks(id, (ack) => {
      if (ack.outcome !== "applied" || entry.actors.has(ack.actorId)) return;
      entry.actors.add(ack.actorId);
      persist();
    });
    this.#caught.set(id, entry);
  }

  override onStop(): void {
    for (const c of this.#caught.values()) c.stop();
    this.#caught.clear();
    for (const t of this.#tracking.values()) {
      t.stop();
      this.#ports.clock.clearTimeout(t.timer);
    }
    this.#tracking.clear();
  }

  async #issue(envelope: ControlEnvelope): Promise<IssueReply> {
    const v = await this.#ports.verify(envelope);
    if (v.body.type !== "tether.override.v1.signal") throw new TetherError("ERR_OVERRIDE_INVALID", "issue takes a signed override signal; use lift-request to lift");
    const signal = v.body;
    const now = this.#ports.clock.now();
    const by = { kid: v.kid, role: v.role, owner: v.owner };
    if (signal.action === "rollback") return this.#rollback(signal, by, now);
    if (isStanding(signal.action) && (await this.#ports.store.get(signal.id)) !== undefined) throw new TetherError("ERR_OVERRIDE_INVALID", `override ${signal.id} is already active`);
    // the signal's ECT is minted alongside the broadcast (acks name it by its fixed jti), not before it
    const signalEct = this.#signalEct(signal, by);
    let expected: string[] | null = null;
    let lifted: ActiveOverride[] = [];
    if (signal.action === "resume") {
      lifted = (await this.#ports.store.list()).filter((r) => r.signal.action === "pause" && (signal.scope.kind === "network" || sameScope(r.signal.scope, signal.scope)));
      for (const r of lifted) await this.#ports.store.delete(r.id);
    }
    const record: ActiveOverride = { type: "tether.override.v1.active", id: signal.id, envelope, signal, by, at: now, expected };
    // persisted before it is broadcast (nodes apply only what the active set holds); acks are watched
    // before the broadcast; who is expected is worked out after it, so it does not delay the signal
    if (isStanding(signal.action)) await this.#ports.store.put(record);
    const tally = this.#track(signal.id, signal.action, signal.ackDeadlineMs);
    if (signal.scope.kind === "workflow" && isStanding(signal.action)) this.#watchCaught(signal.id, []);
    this.#ports.broadcast("apply", envelope);
    expected =
      signal.action === "resume"
        ? lifted.some((r) => r.expected === null)
          ? null
          : [...new Set(lifted.flatMap((r) => r.expected ?? []))]
        : expectedActors(signal.scope, await this.#ports.listActors(), this.#ports.exempt);
    tally.expect(expected);
    // (a workflow scope's expected set stays unknown: no second write, which could drop its `caught`)
    if (isStanding(signal.action) && expected !== null) await this.#ports.store.put({ ...record, expected });
    await this.#ports.recordEvent("override.issued", signal.id, this.#describe(signal, v, now, expected));
    await signalEct;
    return { id: signal.id, expected, issuedAt: now, deadlineAt: now + signal.ackDeadlineMs };
  }

  async #lift(envelope: ControlEnvelope): Promise<IssueReply> {
    const v = await this.#ports.verify(envelope);
    if (v.body.type !== "tether.override.v1.lift") throw new TetherError("ERR_OVERRIDE_INVALID", "lift-request takes a signed lift");
    const lift: OverrideLiftBody = v.body;
    const record = await this.#ports.store.get(lift.id);
    if (record === undefined) throw new TetherError("ERR_OVERRIDE_INVALID", `no active override ${lift.id}`);
    await this.#ports.store.delete(lift.id);
    this.#caught.get(lift.id)?.stop();
    this.#caught.delete(lift.id);
    const now = this.#ports.clock.now();
    await this.#ports.recordEvent("override.lifted", lift.id, {
      action: record.signal.action,
      disposition: lift.disposition ?? record.signal.onLift,
      reason: lift.reason,
      by: { kid: v.kid, role: v.role, owner: v.owner },
      at: now,
    });
    this.#track(lift.id, "lift", record.signal.ackDeadlineMs).expect(record.expected);
    this.#ports.broadcast("lift", envelope);
    return { id: lift.id, expected: record.expected, issuedAt: now, deadlineAt: now + record.signal.ackDeadlineMs };
  }

  /** Mints the signal's ECT through the port (when the node offers one); a failure is logged by the node, never thrown. */
  #signalEct(signal: OverrideSignalBody, by: { kid: string; role: string; owner: string }): Promise<unknown> {
    return this.#ports.recordSignal?.(signal, by).catch(() => undefined) ?? Promise.resolve();
  }

  async #rollback(signal: OverrideSignalBody, by: { kid: string; role: string; owner: string }, now: number): Promise<IssueReply> {
    const target = signal.rollback ?? (signal.scope.kind === "workflow" ? { workflow: signal.scope.wid } : undefined);
    if (target === undefined) throw new TetherError("ERR_OVERRIDE_INVALID", "a rollback names a workflow (scope --workflow, or rollback.workflow)");
    await this.#signalEct(signal, by);
    await this.#ports.recordEvent("override.issued", signal.id, { action: "rollback", scope: signal.scope, level: signal.level, reason: signal.reason, by, at: now, workflow: target.workflow });
    const report = await this.#ports.rollback({ workflow: target.workflow, ...(target.from === undefined ? {} : { from: target.from }) });
    await this.#ports.recordEvent("override.rollback.done", signal.id, { workflow: target.workflow, report: report as unknown as Record<string, unknown>, at: this.#ports.clock.now() });
    return { id: signal.id, expected: [], issuedAt: now, deadlineAt: now, result: report };
  }

  #describe(signal: OverrideSignalBody, v: VerifiedControl, now: number, expected: readonly string[] | null): Record<string, unknown> {
    return {
      action: signal.action,
      scope: signal.scope.kind === "subtree" ? { kind: "subtree", id: signal.scope.id, members: signal.scope.members.length } : signal.scope,
      level: signal.level,
      reason: signal.reason,
      by: { kid: v.kid, role: v.role, owner: v.owner },
      at: now,
      ackDeadlineMs: signal.ackDeadlineMs,
      expected: expected === null ? null : expected.length,
      ...(signal.constraints === undefined ? {} : { constraints: signal.constraints }),
    };
  }

  /**
   * Watches acknowledgements until the deadline; escalates if anyone expected is missing then. `ready`
   * (a re-armed signal's holding query) is awaited before the tally is judged. A standing signal's
   * record is then marked settled, so a later owner does not re-arm it.
   */
  #track(id: string, action: string, deadlineMs: number, ready?: Promise<unknown>): CoverageTally {
    const key = `${id}:${action}`;
    this.#tracking.get(key)?.stop();
    const tally = new CoverageTally(id);
    const stop = this.#ports.watchAcks(id, (ack) => tally.add(ack));
    const timer = this.#ports.clock.setTimeout(() => {
      void (async () => {
        await ready?.catch(() => undefined);
        stop();
        this.#tracking.delete(key);
        const c = tally.snapshot;
        const at = this.#ports.clock.now();
        const escalate = c.expected !== null && c.missing.length > 0;
        if (escalate && c.expected !== null) {
          this.#ports.publishEscalation({ type: "tether.override.v1.escalation", overrideId: id, at, expected: c.expected.length, acked: c.acked.size, missing: [...c.missing].slice(0, 100_000) });
        }
        // settled first (one KV write), so a slow ledger never leaves a judged deadline open for a next owner
        if (action !== "lift" && isStanding(action as OverrideSignalBody["action"])) {
          await this.#ports.store.settle(id, at).catch((error: unknown) => this.#ports.recordEvent("override.settle.failed", id, { at, error: String(error).slice(0, 1024) }).catch(() => undefined));
        }
        if (escalate && c.expected !== null) {
          await this.#ports
            .recordEvent("override.escalated", id, { action, at, expected: c.expected.length, acked: c.expected.length - c.missing.length, missing: c.missing.slice(0, 200), ...(ready === undefined ? {} : { rearmed: true }) })
            .catch(() => undefined);
        }
      })();
    }, deadlineMs);
    this.#tracking.set(key, { stop, timer });
    return tally;
  }
}
