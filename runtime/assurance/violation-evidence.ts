import { TETHER_EXT_PREFIX, type ProfileViolation } from "../../protocols/index.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import { mintEvidenceRecord, type EvidenceDeps } from "./evidence-record.ts";

export type { EvidenceDeps } from "./evidence-record.ts";

/** The ECT node type of a profile violation (`exec_act`). */
export const PROFILE_VIOLATION_ACT = "tether.profile.violation";

/** What a violation judged: the action or message, and the ECT it continued (its parent in the DAG). */
export interface Judged {
  readonly actorId: string;
  readonly parent: ScopeToken | undefined;
  readonly wid: string | undefined;
  /** The judged action's params, or the message's target: hashed into `inp_hash`. */
  readonly input: unknown;
  readonly messageId: string;
}

/**
 * Mints and stores the signed evidence record of a violation: an ECT whose `exec_act` is
 * `tether.profile.violation`, whose parent is the ECT the blocked act or message continued, and whose
 * ext names the kind, the judged action or target, the response and the reason. It is not made the
 * scope's current token: a blocked action is nobody's parent. Resolves with its jti.
 */
export const mintViolationEvidence = (deps: EvidenceDeps, judged: Judged, violation: ProfileViolation): Promise<string> =>
  mintEvidenceRecord(deps, {
    actorId: judged.actorId,
    act: PROFILE_VIOLATION_ACT,
    par: judged.parent === undefined ? [] : [judged.parent.jti],
    wid: judged.wid,
    input: judged.input,
    outcome: "refused",
    ext: {
      [`${TETHER_EXT_PREFIX}violation`]: {
        kind: violation.kind,
        judged: violation.judged.slice(0, 256),
        response: violation.response,
        reason: violation.reason.slice(0, 512),
        message: judged.messageId.slice(0, 128),
      },
    },
  }).then((r) => r.jti);
