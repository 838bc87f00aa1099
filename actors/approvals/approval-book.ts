import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import {
  TetherError,
  decidersAt,
  type ApprovalPolicy,
  type ApprovalRecord,
  type DecisionRecord,
  type Explanation,
} from "../../protocols/index.ts";

/** The approvals actor's checkpointed state: every approval it holds, and the decision nonces it accepted. */
export interface ApprovalsState {
  type: "tether.approvals.v1.state";
  approvals: Record<string, ApprovalRecord>;
  /** `kid:nonce` → expiry (epoch ms): a decision is accepted once, also after a failover. */
  nonces: Record<string, number>;
}

export const initialApprovalsState = (): ApprovalsState => ({ type: "tether.approvals.v1.state", approvals: {}, nonces: {} });

/** A verified signer, as a decision names it. */
export interface Decider {
  readonly owner: string;
  readonly role: string;
  readonly kid?: string;
}

export interface OpenRequest {
  readonly policy: ApprovalPolicy;
  readonly actorId: string;
  readonly action: string;
  readonly wid?: string | undefined;
  readonly explanation: Explanation;
  /** An approval must choose one of these. */
  readonly choices?: readonly string[] | undefined;
  /** SHA-256 (base64url) of the opener's secret: `consume` must show the secret (see `claimHashOf`). */
  readonly claimHash?: string | undefined;
}

/** The hash an opener sends for its secret `claim`: SHA-256, base64url. */
export const claimHashOf = (claim: string): string => createHash("sha256").update(claim).digest("base64url");

/** Whether `claim` is the secret behind `hash` (compared in constant time). */
const claimMatches = (claim: string | undefined, hash: string): boolean => {
  if (claim === undefined) return false;
  const a = Buffer.from(claimHashOf(claim));
  const b = Buffer.from(hash);
  return a.length === b.length && timingSafeEqual(a, b);
};

/** Limits that keep the checkpoint small (it is one KV value). */
export const BookLimits = { maxOpen: 200, maxClosed: 200 } as const;

const OPEN = new Set(["pending", "approved"]);

/**
 * The approvals as a pure state machine over `ApprovalsState` with explicit time (`now`), so timeouts
 * and escalation are tested on a fake clock. The actor around it adds signatures, ECTs and the ledger.
 */
export class ApprovalBook {
  readonly state: ApprovalsState;

  constructor(state: ApprovalsState) {
    this.state = state;
  }

  get(id: string): ApprovalRecord {
    const record = this.state.approvals[id];
    if (record === undefined) throw new TetherError("ERR_APPROVAL_NOT_FOUND", `no approval ${id}`, { details: { id } });
    return record;
  }

  list(): ApprovalRecord[] {
    return Object.values(this.state.approvals).sort((a, b) => a.requestedAt - b.requestedAt);
  }

  /** Opens an approval: pending until decided, or `notified` at once for a notification-only gate. */
  open(request: OpenRequest, now: number): ApprovalRecord {
    const open = Object.values(this.state.approvals).filter((a) => OPEN.has(a.status)).length;
    if (open >= BookLimits.maxOpen) throw new TetherError("ERR_APPROVAL_LIMIT", `${open} approvals are open already`);
    const gate = request.policy.gate;
    const record: ApprovalRecord = {
      id: randomUUID(),
      policy: request.policy.id,
      actorId: request.actorId,
      action: request.action,
      ...(request.wid === undefined ? {} : { wid: request.wid }),
      gate,
      explanation: request.explanation,
      ...(request.choices === undefined ? {} : { choices: [...request.choices] }),
      ...(request.claimHash === undefined ? {} : { claimHash: request.claimHash }),
      status: gate.type === "notify" ? "notified" : "pending",
      level: 0,
      requestedAt: now,
      deadline: now + gate.timeoutMs,
      decisions: [],
    };
    this.state.approvals[record.id] = record;
    this.#prune();
    return record;
  }

  /**
   * Applies a human decision. `approve`/`reject` need a pending approval and a decider the current
   * level names; `revoke` needs an approval not yet used, by a decider any level names.
   */
  decide(id: string, decision: "approve" | "reject" | "revoke", by: Decider, now: number, reason?: string, choice?: string): DecisionRecord {
    const record = this.get(id);
    if (choice !== undefined && (decision !== "approve" || record.choices === undefined)) {
      throw new TetherError("ERR_APPROVAL_CHOICE_INVALID", `approval ${id}: only an approval of a gate with choices names a choice`, { details: { id } });
    }
    if (decision === "approve" && record.choices !== undefined && (choice === undefined || !record.choices.includes(choice))) {
      throw new TetherError("ERR_APPROVAL_CHOICE_INVALID", `approval ${id} must choose one of ${record.choices.join(", ")}`, { details: { id, choice: choice ?? null } });
    }
    const mayDecide = (level: number) => {
      const d = decidersAt(record.gate, level);
      return (d.roles as readonly string[]).includes(by.role) && (d.owners === undefined || d.owners.includes(by.owner));
    };
    if (decision === "revoke") {
      if (record.status !== "approved" || now > record.deadline) {
        throw new TetherError("ERR_APPROVAL_ALREADY_DECIDED", `approval ${id} is ${record.status}: only an approval not yet used can be revoked`, { details: { id, status: record.status } });
      }
      const levels = [0, ...record.gate.escalation.map((_, i) => i + 1)];
      if (!levels.some(mayDecide)) throw forbidden(id, by, record.level);
    } else {
      if (record.status !== "pending") throw new TetherError("ERR_APPROVAL_ALREADY_DECIDED", `approval ${id} is ${record.status}`, { details: { id, status: record.status } });
      if (!mayDecide(record.level)) throw forbidden(id, by, record.level);
    }
    const entry: DecisionRecord = {
      decision,
      by: by.owner,
      role: by.role,
      ...(by.kid === undefined ? {} : { kid: by.kid }),
      at: now,
      level: record.level,
      ...(reason === undefined ? {} : { reason }),
      ...(choice === undefined ? {} : { choice }),
    };
    record.decisions.push(entry);
    if (decision === "approve") {
      record.status = "approved";
      record.deadline = now + record.gate.validForMs;
    } else record.status = decision === "reject" ? "rejected" : "revoked";
    return entry;
  }

  /**
   * Moves time: a pending approval whose level timed out escalates to the next group, or after the last
   * one takes the gate's default outcome; an approval not used within its validity expires. Returns the
   * approvals that changed with what happened.
   */
  tick(now: number): { record: ApprovalRecord; entry: DecisionRecord | undefined }[] {
    const changed: { record: ApprovalRecord; entry: DecisionRecord | undefined }[] = [];
    for (const record of Object.values(this.state.approvals)) {
      if (now < record.deadline) continue;
      if (record.status === "approved") {
        record.status = "expired";
        changed.push({ record, entry: undefined });
        continue;
      }
      if (record.status !== "pending") continue;
      const next = record.gate.escalation[record.level];
      if (next !== undefined) {
        record.level += 1;
        record.deadline = now + next.timeoutMs;
        const entry: DecisionRecord = { decision: "escalate", by: "system", role: "system", at: now, level: record.level };
        record.decisions.push(entry);
        changed.push({ record, entry });
        continue;
      }
      const outcome = record.gate.defaultOutcome ?? (record.gate.type === "override" ? "approve" : "reject");
      const entry: DecisionRecord = { decision: outcome === "approve" ? "timeout-approve" : "timeout-reject", by: "system", role: "system", at: now, level: record.level };
      record.decisions.push(entry);
      if (outcome === "approve") {
        record.status = "approved";
        record.deadline = now + record.gate.validForMs;
      } else record.status = "rejected";
      changed.push({ record, entry });
    }
    for (const [key, expiry] of Object.entries(this.state.nonces)) if (expiry < now) delete this.state.nonces[key];
    return changed;
  }

  /** Uses an approval for the action: only an approved, unexpired one; it cannot be used twice. */
  consume(id: string, now: number, claim?: string): ApprovalRecord {
    const record = this.get(id);
    // only the opener (the gated action waiting for it) may use an approval: anyone else on the bus
    // could otherwise use it up, and the action would then fail
    if (record.claimHash !== undefined && !claimMatches(claim, record.claimHash)) {
      throw new TetherError("ERR_APPROVAL_CLAIM_INVALID", `approval ${id} can be used only by the action that asked for it`, { details: { id } });
    }
    if (record.status === "approved" && now <= record.deadline) {
      record.status = "executed";
      return record;
    }
    if (record.status === "approved" || record.status === "expired") {
      record.status = "expired";
      throw new TetherError("ERR_APPROVAL_EXPIRED", `approval ${id} lapsed before the action ran`, { details: { id } });
    }
    if (record.status === "revoked") throw new TetherError("ERR_APPROVAL_REVOKED", `approval ${id} was revoked before the action ran`, { details: { id } });
    if (record.status === "rejected") throw new TetherError("ERR_APPROVAL_REJECTED", `approval ${id} was rejected`, { details: { id } });
    throw new TetherError("ERR_APPROVAL_ALREADY_DECIDED", `approval ${id} is ${record.status}: it cannot be used`, { details: { id, status: record.status } });
  }

  /** Remembers a decision's nonce until its expiry; false when it was accepted before (a replay). */
  rememberNonce(kid: string, nonce: string, expiresAt: number): boolean {
    const key = `${kid}:${nonce}`;
    if (this.state.nonces[key] !== undefined) return false;
    this.state.nonces[key] = expiresAt;
    return true;
  }

  /** Keeps at most `maxClosed` closed approvals (the oldest go; the ledger and ECT store keep their history). */
  #prune(): void {
    const closed = Object.values(this.state.approvals)
      .filter((a) => !OPEN.has(a.status))
      .sort((a, b) => a.requestedAt - b.requestedAt);
    for (const record of closed.slice(0, Math.max(0, closed.length - BookLimits.maxClosed))) delete this.state.approvals[record.id];
  }
}

const forbidden = (id: string, by: Decider, level: number): TetherError =>
  new TetherError("ERR_APPROVAL_DECIDER_FORBIDDEN", `${by.owner} (${by.role}) may not decide approval ${id} at escalation level ${level}`, {
    details: { id, owner: by.owner, role: by.role, level },
  });
