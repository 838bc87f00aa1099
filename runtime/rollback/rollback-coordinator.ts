import { decodeBody, isTetherError, ROLLBACK_CAUSED_ACT, RollbackRequest, TetherError, type CompensationRequest, type RollbackReport, type RollbackStep } from "../../protocols/index.ts";
import { OVERRIDE_ACT_PREFIX } from "../assurance/override-evidence.ts";
import { sleep, type Clock } from "../support/clock.ts";
import type { StoredEctRecord } from "../stores/ect-store.ts";
import type { NodeEvent } from "../node-events.ts";
import type { Logger } from "../support/logger.ts";

/** What a rollback reads from the ECT store: a workflow's recorded actions (`KvEctStore` in production). */
export interface WorkflowRecords {
  listWorkflow(wid: string): Promise<readonly StoredEctRecord[]>;
}

export interface RollbackDeps {
  readonly store: WorkflowRecords;
  /** Asks `actorId` to run a compensation; resolves when it finished. */
  compensate(actorId: string, request: CompensationRequest, timeoutMs: number): Promise<unknown>;
  readonly clock: Clock;
  readonly logger: Logger;
  emit(event: NodeEvent): void;
  recordEvent(event: string, subject: string, details: Record<string, unknown>): Promise<unknown>;
  /** Records the signed `tether.rollback.caused` ECT about the agent a request blames; resolves with its jti. */
  recordCause?(cause: RollbackCause): Promise<string>;
}

/** Who caused a rollback, and what it undid. */
export interface RollbackCause {
  readonly agent: string;
  readonly reason: string;
  readonly workflow: string;
  readonly from: string | undefined;
  /** The actions compensated (jti), in the order they ran. */
  readonly compensated: readonly string[];
}

const COMPENSATION_PREFIX = "compensate:";

/**
 * Walks a workflow's action DAG (the ECT store) backwards and runs compensations, children before
 * parents, across agents and nodes. Each outcome is recorded (an ECT per compensation, events for the
 * ledger). A compensation that keeps failing after its retries stops the rollback there and is
 * escalated (node event `rollback-escalated` and ledger event `rollback.escalated`): never silently
 * skipped, since undoing a parent before its child could make things worse.
 */
export class RollbackCoordinator {
  readonly #d: RollbackDeps;

  constructor(deps: RollbackDeps) {
    this.#d = deps;
  }

  async run(input: unknown): Promise<RollbackReport> {
    const parsed = RollbackRequest.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(request)"}: ${i.message}`);
      throw new TetherError("ERR_ROLLBACK_INVALID", `invalid rollback request: ${problems.join("; ")}`, { details: { problems } });
    }
    const req = parsed.data;
    const records = await this.#d.store.listWorkflow(req.workflow);
    if (records.length === 0) throw new TetherError("ERR_ROLLBACK_INVALID", `no recorded actions for workflow ${req.workflow}`);
    const byJti = new Map(records.map((r) => [r.jti, r]));
    if (req.from !== undefined && !byJti.has(req.from)) {
      throw new TetherError("ERR_ROLLBACK_INVALID", `action ${req.from} is not part of workflow ${req.workflow}`);
    }
    const compensated = new Set(
      records.filter((r) => r.exec_act.startsWith(COMPENSATION_PREFIX) && r.outcome === "ok").flatMap((r) => r.par),
    );
    // override signals and acknowledgements, and the blame of an earlier rollback, are records of
    // oversight, not actions: nothing to undo
    const actions = records.filter((r) => !r.exec_act.startsWith(COMPENSATION_PREFIX) && !r.exec_act.startsWith(OVERRIDE_ACT_PREFIX) && r.exec_act !== ROLLBACK_CAUSED_ACT);
    const scope = req.from === undefined ? new Set(actions.map((r) => r.jti)) : descendants(actions, req.from);
    const order = reverseTopological(actions.filter((r) => scope.has(r.jti)));
    const steps: RollbackStep[] = order
      .filter((r) => r.outcome === "ok")
      .map((r) => ({
        jti: r.jti,
        actor: r.actor ?? actorOf(r.iss),
        action: r.exec_act,
        compensation: r.undo?.compensation,
        outcome: r.undo === undefined ? "not-compensable" : compensated.has(r.jti) ? "already-compensated" : "pending",
        attempts: 0,
      }));
    await this.#d.recordEvent("rollback.started", req.workflow, { from: req.from ?? null, steps: steps.length });
    let stopped = false;
    for (const step of steps) {
      if (step.outcome !== "pending" || stopped) continue;
      const record = byJti.get(step.jti) as StoredEctRecord;
      const ok = await this.#compensate(record, step, req);
      this.#d.emit({ type: "rollback-step", workflow: req.workflow, step: { ...step } });
      if (!ok) {
        stopped = true;
        this.#d.emit({ type: "rollback-escalated", workflow: req.workflow, step: { ...step } });
        await this.#d.recordEvent("rollback.escalated", step.actor, { workflow: req.workflow, jti: step.jti, action: step.action, error: step.error ?? null });
      }
    }
    // blame is recorded once per rollback that undid something, about the agent the request names only
    const undone = steps.filter((s) => s.outcome === "compensated").map((s) => s.jti);
    let causeEct: string | undefined;
    if (req.cause !== undefined && undone.length > 0 && this.#d.recordCause !== undefined) {
      try {
        causeEct = await this.#d.recordCause({ ...req.cause, workflow: req.workflow, from: req.from, compensated: undone });
        await this.#d.recordEvent("rollback.caused", req.cause.agent, { workflow: req.workflow, from: req.from ?? null, reason: req.cause.reason, ect: causeEct });
      } catch (error) {
        // the compensations ran: their report matters more than the blame, which is logged as lost
        this.#d.logger.warn("rollback cause not recorded", { workflow: req.workflow, agent: req.cause.agent, error });
      }
    }
    const report: RollbackReport = {
      workflow: req.workflow,
      from: req.from,
      ok: steps.every((s) => s.outcome === "compensated" || s.outcome === "already-compensated" || s.outcome === "not-compensable"),
      steps,
      ...(causeEct === undefined ? {} : { causeEct }),
    };
    await this.#d.recordEvent("rollback.finished", req.workflow, { ok: report.ok, compensated: steps.filter((s) => s.outcome === "compensated").length });
    return report;
  }

  async #compensate(record: StoredEctRecord, step: RollbackStep, req: RollbackRequest): Promise<boolean> {
    const undo = record.undo as NonNullable<StoredEctRecord["undo"]>;
    const { params, result } = decodeBody(Buffer.from(undo.data, "base64")) as { params: unknown; result: unknown };
    for (let attempt = 1; attempt <= req.attempts; attempt++) {
      step.attempts = attempt;
      try {
        await this.#d.compensate(
          step.actor,
          {
            type: "tether.rollback.v1.compensate",
            jti: record.jti,
            ...(record.wid === undefined ? {} : { wid: record.wid }),
            action: record.exec_act,
            compensation: undo.compensation,
            params,
            result,
            attempt,
          },
          req.timeoutMs,
        );
        step.outcome = "compensated";
        delete step.error;
        return true;
      } catch (error) {
        step.error = { code: isTetherError(error) ? error.code : "ERR_ROLLBACK_COMPENSATION_FAILED", message: error instanceof Error ? error.message.slice(0, 1024) : String(error) };
        this.#d.logger.warn("compensation failed", { jti: record.jti, actor: step.actor, attempt, error });
        if (isTetherError(error) && error.code === "ERR_ROLLBACK_NOT_COMPENSABLE") break;
        if (attempt < req.attempts) await sleep(this.#d.clock, req.backoffMs * 2 ** (attempt - 1));
      }
    }
    step.outcome = "failed";
    return false;
  }
}

const actorOf = (iss: string): string => iss.slice(iss.lastIndexOf("/") + 1);

/** The action and everything reachable from it through `par` links (its causal descendants). */
const descendants = (records: readonly StoredEctRecord[], from: string): Set<string> => {
  const children = new Map<string, string[]>();
  for (const r of records) for (const p of r.par) children.set(p, [...(children.get(p) ?? []), r.jti]);
  const out = new Set<string>([from]);
  const queue = [from];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const c of children.get(next) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        queue.push(c);
      }
    }
  }
  return out;
};

/** Children before parents; among independent actions, the later (`iat`, then jti) first. */
const reverseTopological = (records: readonly StoredEctRecord[]): StoredEctRecord[] => {
  const inScope = new Map(records.map((r) => [r.jti, r]));
  const pendingParents = new Map(records.map((r) => [r.jti, r.par.filter((p) => inScope.has(p)).length]));
  const children = new Map<string, StoredEctRecord[]>();
  for (const r of records) for (const p of r.par) if (inScope.has(p)) children.set(p, [...(children.get(p) ?? []), r]);
  const byTime = (a: StoredEctRecord, b: StoredEctRecord) => a.iat - b.iat || a.jti.localeCompare(b.jti);
  const ready = records.filter((r) => pendingParents.get(r.jti) === 0).sort(byTime);
  const forward: StoredEctRecord[] = [];
  while (ready.length > 0) {
    const r = ready.shift() as StoredEctRecord;
    forward.push(r);
    for (const c of children.get(r.jti) ?? []) {
      const left = (pendingParents.get(c.jti) ?? 1) - 1;
      pendingParents.set(c.jti, left);
      if (left === 0) {
        ready.push(c);
        ready.sort(byTime);
      }
    }
  }
  return forward.reverse();
};
