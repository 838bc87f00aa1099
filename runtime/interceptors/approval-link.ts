import {
  ApprovalPolicy,
  TetherError,
  matchPolicy,
  type ApprovalPolicyInput,
  type ApprovalRecord,
  type Explanation,
  type RiskLevel,
} from "../../protocols/index.ts";
import type { ActionCall, ActionInterceptor } from "../actor/actor-types.ts";
import type { Clock } from "../support/clock.ts";

/** What the link needs from the approvals actor (`ApprovalClient` in actors/ implements it over a node). */
export interface ApprovalPort {
  open(request: { policy: ApprovalPolicy; actorId: string; action: string; wid: string | undefined; explanation: Explanation; parentJti: string | undefined }): Promise<ApprovalRecord>;
  /** Resolves once the approval is no longer pending (survives failover of the approvals actor). */
  wait(id: string, signal: AbortSignal): Promise<ApprovalRecord>;
  /** Uses an approved, unexpired, unrevoked approval (once); throws ERR_APPROVAL_* otherwise. */
  consume(id: string): Promise<ApprovalRecord>;
  /** Asks the reroute target to handle the rejected action; its reply is the action's result. */
  reroute(to: string, request: { approvalId: string; actorId: string; action: string; params: Record<string, unknown> }): Promise<unknown>;
  /** Rolls back the workflow's completed compensable actions (the `compensate` reject path). */
  compensate(wid: string): Promise<void>;
}

export interface ApprovalLinkOptions {
  readonly policies: readonly ApprovalPolicyInput[];
  /** Risk level per action name, matched by policies' `minRisk`. */
  readonly risks?: Readonly<Record<string, RiskLevel>>;
  /** The node's assurance profile, matched by policies' `profiles`. */
  readonly profile?: string;
  /** The approvals actor, bound once the node exists. */
  readonly port: ApprovalPort;
  /** For the gate's hold (cooling-off) period. */
  readonly clock: Clock;
}

const MAX_INPUT_CHARS = 8_192;

/**
 * The approval gate on the action path. An action a policy matches does not run until a human (or the
 * gate's default outcome) decides: the link opens an approval in the approvals actor, waits for it to
 * leave `pending`, waits the gate's hold period, then uses the approval (refused if it was revoked or
 * lapsed meanwhile) and runs the action, whose ECT then names the decision's ECT as its parent. A
 * rejection takes the gate's path: abort (ERR_APPROVAL_REJECTED), compensate then abort, or reroute.
 * A notification-only gate records the request and runs the action at once.
 *
 * Runs inside the mint link (pass it in `NodeDeps.actionInterceptors`), so a refused action still gets
 * its ECT, with outcome `failed` and the error code.
 */
export const approvalLink = (options: ApprovalLinkOptions): ActionInterceptor => {
  const policies = options.policies.map((p) => ApprovalPolicy.parse(p));
  const { port, clock } = options;
  return async (call, next) => {
    const policy = matchPolicy(policies, { action: call.name, params: call.params, risk: options.risks?.[call.name], profile: options.profile });
    if (policy === undefined) return next();
    const scope = call.scope;
    const context = scope.current ?? scope.incoming;
    const opened = await port.open({ policy, actorId: call.actorId, action: call.name, wid: scope.wid, explanation: explain(policy, call, context?.jti), parentJti: context?.jti });
    if (opened.status === "notified") return next();
    const decided = opened.status === "pending" ? await port.wait(opened.id, call.signal) : opened;
    if (decided.status === "approved") {
      if (decided.gate.holdMs > 0) await sleep(clock, decided.gate.holdMs, call.signal);
      const used = await port.consume(decided.id);
      const ect = [...used.decisions].reverse().find((d) => d.ect !== undefined)?.ect;
      if (ect !== undefined) call.record.parent = { token: ect.token, jti: ect.jti, wid: scope.wid, level: ect.level, receipt: undefined };
      return next();
    }
    const path = decided.gate.onReject;
    const rejected = new TetherError("ERR_APPROVAL_REJECTED", `${call.name} by ${call.actorId} was ${decided.status} (approval ${decided.id})`, {
      details: { approval: decided.id, status: decided.status, path: path.path },
    });
    if (decided.status !== "rejected") {
      throw new TetherError(decided.status === "revoked" ? "ERR_APPROVAL_REVOKED" : "ERR_APPROVAL_EXPIRED", `approval ${decided.id} is ${decided.status}`, { details: { approval: decided.id } });
    }
    if (path.path === "reroute") return port.reroute(path.to, { approvalId: decided.id, actorId: call.actorId, action: call.name, params: { ...call.params } });
    if (path.path === "compensate" && scope.wid !== undefined) await port.compensate(scope.wid);
    throw rejected;
  };
};

/** The explanation an approver sees: summary, bounded inputs, the agent's rationale and evidence ECTs. */
const explain = (policy: ApprovalPolicy, call: ActionCall, contextJti: string | undefined): Explanation => {
  const { rationale, evidence, ...inputs } = call.params as Record<string, unknown>;
  let bounded: Record<string, unknown> = inputs;
  if (JSON.stringify(inputs).length > MAX_INPUT_CHARS) bounded = { truncated: JSON.stringify(inputs).slice(0, MAX_INPUT_CHARS) };
  const evidenceIds = Array.isArray(evidence) ? evidence.filter((e): e is string => typeof e === "string").slice(0, 31) : [];
  return {
    summary: policy.summary ?? `${call.actorId} wants to ${call.name}`,
    inputs: bounded,
    ...(typeof rationale === "string" ? { rationale: rationale.slice(0, 4096) } : {}),
    evidence: contextJti === undefined ? evidenceIds : [contextJti, ...evidenceIds],
  };
};

const sleep = (clock: Clock, ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new TetherError("ERR_HANDLER_ABORTED", "aborted while holding an approval"));
    const timer = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(new TetherError("ERR_HANDLER_ABORTED", "aborted while holding an approval"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
