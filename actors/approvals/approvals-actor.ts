import { randomUUID } from "node:crypto";
import {
  ApprovalDecisionBody,
  ApprovalsMessage,
  TETHER_EXT_PREFIX,
  TetherError,
  isTetherError,
  type ApprovalRecord,
  type DecisionRecord,
} from "../../protocols/index.ts";
import type { ActorContext, ActorLifecycleContext, DeferredReply, TimerHandle } from "../../runtime/index.ts";
import { ApprovalBook, initialApprovalsState, type ApprovalsState } from "./approval-book.ts";
import type { ApprovalsPort } from "./approvals-port.ts";

export interface ApprovalsDeps {
  readonly port: ApprovalsPort;
  /** How often deadlines are checked (on the port's clock). Default 1 s. */
  readonly tickMs?: number;
}

const EVENT: Record<DecisionRecord["decision"], string> = {
  approve: "approval.granted",
  reject: "approval.rejected",
  revoke: "approval.revoked",
  "timeout-approve": "approval.granted",
  "timeout-reject": "approval.rejected",
  escalate: "approval.escalated",
};

/**
 * The network's approvals actor: holds every approval gate's state (pending, approved, rejected,
 * revoked, expired, executed) in its checkpoint (JetStream KV, saved after every change, so pending
 * approvals survive node restarts and fail over with the actor). Decisions arrive as signed control
 * messages (operation `approve`); each accepted decision, escalation and timeout is an ECT whose parent
 * is the gated action's request ECT, and an audit-ledger event. Refused decisions are recorded as
 * `violation` events. Gated actions wait with `await` (answered when the approval leaves `pending`).
 */
export class ApprovalsActor {
  static readonly protocol = ApprovalsMessage;
  static readonly capabilities: readonly string[] = ["approvals"];
  state: ApprovalsState = initialApprovalsState();
  readonly #deps: ApprovalsDeps;
  readonly #waiters = new Map<string, DeferredReply[]>();
  #timer: TimerHandle | undefined;
  #self = "";
  /** Secret of this running instance, carried by its own ticks (it never leaves the process). */
  readonly #key = randomUUID();

  constructor(deps: ApprovalsDeps) {
    this.#deps = deps;
  }

  onStart(ctx: ActorLifecycleContext): void {
    this.#self = ctx.self;
    if (this.state?.type !== "tether.approvals.v1.state") this.state = initialApprovalsState();
    const { clock } = this.#deps.port;
    // the timer tells the actor itself, so deadlines are handled one message at a time like everything else
    this.#timer = clock.setInterval(() => {
      try {
        this.#deps.port.tell(this.#self, { type: "tether.approvals.v1.tick", key: this.#key });
      } catch {
        /* stopping, or the mailbox is full: the next tick catches up */
      }
    }, this.#deps.tickMs ?? 1_000);
    this.#timer.unref?.();
  }

  onStop(): void {
    if (this.#timer !== undefined) this.#deps.port.clock.clearInterval(this.#timer);
    for (const waiters of this.#waiters.values()) for (const w of waiters) w.reject(new TetherError("ERR_ACTOR_STOPPED", "the approvals actor stopped; ask again"));
    this.#waiters.clear();
  }

  async handle(msg: ApprovalsMessage, ctx: ActorContext): Promise<unknown> {
    const book = new ApprovalBook(this.state);
    const port = this.#deps.port;
    switch (msg.type) {
      case "tether.approvals.v1.open": {
        const record = book.open({ ...msg, choices: msg.choices, claimHash: msg.claimHash }, port.clock.now());
        record.requestEct = await port.mint({
          actorId: this.#self,
          act: "approval.request",
          par: msg.parentJti === undefined ? [] : [msg.parentJti],
          wid: msg.wid,
          input: msg.explanation.inputs,
          ext: { [`${TETHER_EXT_PREFIX}approval`]: record.id, [`${TETHER_EXT_PREFIX}gated`]: `${msg.actorId}/${msg.action}`, [`${TETHER_EXT_PREFIX}gate`]: record.gate.type },
        });
        await ctx.checkpoint();
        await port.record(record.status === "notified" ? "approval.notified" : "approval.requested", record.actorId, {
          approval: record.id,
          action: record.action,
          policy: record.policy,
          summary: record.explanation.summary,
          ect: record.requestEct.jti,
        });
        return structuredClone(record);
      }
      case "tether.approvals.v1.decide":
        return this.#decide(book, msg.envelope, ctx);
      case "tether.approvals.v1.await": {
        const record = book.get(msg.id);
        if (record.status !== "pending") return structuredClone(record);
        const waiters = this.#waiters.get(msg.id) ?? [];
        waiters.push(ctx.deferReply());
        this.#waiters.set(msg.id, waiters);
        return undefined;
      }
      case "tether.approvals.v1.consume": {
        try {
          const record = book.consume(msg.id, port.clock.now(), msg.claim);
          await ctx.checkpoint();
          return structuredClone(record);
        } catch (error) {
          await ctx.checkpoint(); // an approval found lapsed is saved as expired
          throw error;
        }
      }
      case "tether.approvals.v1.get":
        return structuredClone(book.get(msg.id));
      case "tether.approvals.v1.list":
        return structuredClone(book.list().filter((r) => msg.status === undefined || r.status === msg.status));
      case "tether.approvals.v1.tick": {
        if (msg.key !== this.#key) throw new TetherError("ERR_MESSAGE_INVALID", "tick is the approvals actor's own timer: refused from elsewhere");
        const changed = book.tick(port.clock.now());
        if (changed.length === 0) return undefined;
        for (const { record, entry } of changed) if (entry !== undefined) await this.#recordDecision(record, entry);
        await ctx.checkpoint();
        for (const { record } of changed) this.#settle(record);
        return undefined;
      }
    }
  }

  async #decide(book: ApprovalBook, envelope: unknown, ctx: ActorContext): Promise<ApprovalRecord> {
    const port = this.#deps.port;
    let approvalId: string | undefined;
    try {
      const verified = await port.verify(envelope, this.#self, { checkAndRemember: (kid, nonce, expiresAt) => book.rememberNonce(kid, nonce, expiresAt) });
      const body = ApprovalDecisionBody.parse(verified.body);
      approvalId = body.approvalId;
      const entry = book.decide(body.approvalId, body.decision, { owner: verified.owner, role: verified.role, kid: verified.kid }, port.clock.now(), body.reason, body.choice);
      const record = book.get(body.approvalId);
      await this.#recordDecision(record, entry);
      await ctx.checkpoint();
      this.#settle(record);
      return structuredClone(record);
    } catch (error) {
      // the nonce a refused decision used is remembered too: save it, so a replay stays refused after a failover
      await ctx.checkpoint().catch(() => undefined);
      const code = isTetherError(error) ? error.code : "ERR_CONTROL_MALFORMED";
      const details = isTetherError(error) ? (error.details as Record<string, unknown> | undefined) : undefined;
      await port.record("violation", this.#self, {
        source: "approval",
        code,
        reason: (error instanceof Error ? error.message : String(error)).slice(0, 512),
        ...(approvalId === undefined ? {} : { approval: approvalId }),
        ...pick(details),
        at: port.clock.now(),
      });
      throw error;
    }
  }

  /** Mints the decision's ECT (parent: the request ECT) and appends the ledger event. */
  async #recordDecision(record: ApprovalRecord, entry: DecisionRecord): Promise<void> {
    const port = this.#deps.port;
    entry.ect = await port.mint({
      actorId: this.#self,
      act: `approval.${entry.decision}`,
      par: record.requestEct === undefined ? [] : [record.requestEct.jti],
      wid: record.wid,
      input: { approval: record.id, decision: entry.decision, reason: entry.reason ?? null, ...(entry.choice === undefined ? {} : { choice: entry.choice }) },
      ext: {
        [`${TETHER_EXT_PREFIX}approval`]: record.id,
        [`${TETHER_EXT_PREFIX}decider`]: `${entry.role}:${entry.by}`,
        ...(entry.kid === undefined ? {} : { [`${TETHER_EXT_PREFIX}kid`]: entry.kid }),
      },
    });
    await port.record(EVENT[entry.decision], record.actorId, {
      approval: record.id,
      action: record.action,
      decision: entry.decision,
      by: entry.by,
      role: entry.role,
      level: entry.level,
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
      ...(entry.choice === undefined ? {} : { choice: entry.choice }),
      ect: entry.ect.jti,
    });
  }

  /** Answers the gated actions waiting for this approval once it left `pending`. */
  #settle(record: ApprovalRecord): void {
    if (record.status === "pending") return;
    const waiters = this.#waiters.get(record.id);
    this.#waiters.delete(record.id);
    for (const w of waiters ?? []) w.resolve(structuredClone(record));
  }
}

const pick = (details: Record<string, unknown> | undefined): Record<string, string | number> => {
  const out: Record<string, string | number> = {};
  for (const key of ["kid", "role", "owner", "operation", "level"]) {
    const value = details?.[key];
    if (typeof value === "string") out[key] = value.slice(0, 256);
    else if (typeof value === "number") out[key] = value;
  }
  return out;
};
