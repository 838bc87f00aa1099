import { randomBytes } from "node:crypto";
import {
  ApprovalRecord,
  ReroutedAction,
  TetherError,
  isTetherError,
  type ApprovalPolicy,
  type Explanation,
} from "../../protocols/index.ts";
import type { ApprovalPort, Clock, ControlSigner, Node } from "../../runtime/index.ts";
import { BuiltInActorClient } from "../built-in-client.ts";
import { claimHashOf } from "./approval-book.ts";
import { ApprovalsActor } from "./approvals-actor.ts";
import { approvalsPort } from "./approvals-port.ts";

/** The approvals actor's id unless told otherwise: one per network. */
export const APPROVALS_ACTOR_ID = "approvals";

export interface ApprovalsOptions {
  readonly actorId?: string;
  /** The clock deadlines run on (default the node's); tests pass a `FakeClock`. */
  readonly clock?: Clock;
  readonly tickMs?: number;
  /** One round of waiting for a decision; a round that times out (or meets a failover) is asked again. Default 30 s. */
  readonly waitRoundMs?: number;
}

/** Secrets of open approvals kept per client (one per gated action waiting on this node). */
const MAX_CLAIMS = 10_000;

const RETRY = new Set(["ERR_ASK_TIMEOUT", "ERR_ACTOR_NOT_FOUND", "ERR_ACTOR_STOPPED", "ERR_ACTOR_FENCED", "ERR_NODE_UNREACHABLE", "ERR_TRANSPORT_FAILED"]);

/**
 * Approval gates over one node: `register` lets the node host the approvals actor (and take it over
 * when its node dies), `start` also starts it unless it runs somewhere already, and the instance is the
 * `ApprovalPort` the approval link uses, plus the operator API (list, show, decide).
 *
 *   const approvals = new ApprovalClient();
 *   const node = await Node.create(opts, { actionInterceptors: [approvalLink({ policies, port: approvals, clock })] });
 *   await approvals.attach(node).start();
 */
export class ApprovalClient extends BuiltInActorClient implements ApprovalPort {
  readonly #options: ApprovalsOptions;
  /**
   * The secret behind each approval this client opened (the approvals actor holds only its hash):
   * showing it is what lets `consume` use the approval, so nobody else on the bus can use it up.
   * In memory only: a gated action that dies with its process opens a new approval when it runs again.
   */
  readonly #claims = new Map<string, string>();

  constructor(options: ApprovalsOptions = {}) {
    super(options.actorId ?? APPROVALS_ACTOR_ID, ApprovalsActor, "approval");
    this.#options = options;
  }

  protected deps(node: Node) {
    return { port: approvalsPort(node, this.#options.clock), ...(this.#options.tickMs === undefined ? {} : { tickMs: this.#options.tickMs }) };
  }

  #ask(msg: unknown, timeoutMs?: number): Promise<unknown> {
    return this.bound()
      .ref(this.actorId)
      .ask(msg, timeoutMs === undefined ? {} : { timeoutMs });
  }

  async open(request: { policy: ApprovalPolicy; actorId: string; action: string; wid: string | undefined; explanation: Explanation; parentJti: string | undefined; choices?: readonly string[] | undefined }): Promise<ApprovalRecord> {
    const claim = randomBytes(32).toString("base64url");
    const msg = {
      type: "tether.approvals.v1.open",
      policy: request.policy,
      actorId: request.actorId,
      action: request.action,
      explanation: request.explanation,
      ...(request.wid === undefined ? {} : { wid: request.wid }),
      ...(request.parentJti === undefined ? {} : { parentJti: request.parentJti }),
      ...(request.choices === undefined ? {} : { choices: [...request.choices] }),
      claimHash: claimHashOf(claim),
    };
    const record = ApprovalRecord.parse(await this.#ask(msg));
    if (record.status !== "notified") this.#remember(record.id, claim);
    return record;
  }

  #remember(id: string, claim: string): void {
    this.#claims.set(id, claim);
    // bounded: an approval never used (rejected, expired, its action gone) is forgotten first
    if (this.#claims.size > MAX_CLAIMS) this.#claims.delete(this.#claims.keys().next().value as string);
  }

  async wait(id: string, signal: AbortSignal): Promise<ApprovalRecord> {
    const round = this.#options.waitRoundMs ?? 30_000;
    for (;;) {
      if (signal.aborted) throw new TetherError("ERR_HANDLER_ABORTED", `aborted while waiting for approval ${id}`);
      try {
        const record = ApprovalRecord.parse(await this.#ask({ type: "tether.approvals.v1.await", id }, round));
        if (record.status !== "approved") this.#claims.delete(id);
        return record;
      } catch (error) {
        if (!isTetherError(error) || !RETRY.has(error.code)) throw error;
        // the approvals actor failed over or the round ran out: ask again (its checkpoint has the approval)
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async consume(id: string): Promise<ApprovalRecord> {
    const claim = this.#claims.get(id);
    if (claim === undefined) throw new TetherError("ERR_APPROVAL_CLAIM_INVALID", `approval ${id} was not opened by this client: only the action that asked for it may use it`, { details: { id } });
    try {
      return ApprovalRecord.parse(await this.#ask({ type: "tether.approvals.v1.consume", id, claim }));
    } finally {
      this.#claims.delete(id);
    }
  }

  reroute(to: string, request: { approvalId: string; actorId: string; action: string; params: Record<string, unknown> }): Promise<unknown> {
    const msg: ReroutedAction = { type: "tether.approvals.v1.rerouted", ...request };
    return this.bound().ref(to).ask(msg);
  }

  async compensate(wid: string): Promise<void> {
    await this.bound().rollback({ workflow: wid });
  }

  /** Every approval the actor holds (optionally of one status). */
  async list(status?: ApprovalRecord["status"]): Promise<ApprovalRecord[]> {
    const reply = await this.#ask({ type: "tether.approvals.v1.list", ...(status === undefined ? {} : { status }) });
    return ApprovalRecord.array().parse(reply);
  }

  async get(id: string): Promise<ApprovalRecord> {
    return ApprovalRecord.parse(await this.#ask({ type: "tether.approvals.v1.get", id }));
  }

  /** Signs a decision with `signer` (an approver's key) and sends it; resolves with the approval as decided. `choice`: for a gate with choices. */
  async decide(signer: ControlSigner, id: string, decision: "approve" | "reject" | "revoke", reason?: string, choice?: string): Promise<ApprovalRecord> {
    const body = { type: "tether.approval.v1.decision", approvalId: id, decision, ...(reason === undefined ? {} : { reason }), ...(choice === undefined ? {} : { choice }) } as const;
    const envelope = await signer.sign(body, this.actorId);
    return ApprovalRecord.parse(await this.#ask({ type: "tether.approvals.v1.decide", envelope }));
  }
}
