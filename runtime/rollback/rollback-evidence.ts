import { ROLLBACK_CAUSED_ACT, TETHER_EXT_PREFIX } from "../../protocols/index.ts";
import type { RollbackCause } from "./rollback-coordinator.ts";
import { mintEvidenceRecord, type EvidenceDeps } from "../assurance/evidence-record.ts";

/**
 * The signed record that `cause.agent` caused a rollback: an ECT about that agent (`iss`) whose
 * `exec_act` is `tether.rollback.caused`, whose parent is the action the rollback started from, in the
 * rolled-back workflow, naming the reason and how many actions were compensated. The trust actor counts
 * it as `rollback-caused`, observed by the node that signed it.
 */
export const mintRollbackCause = (deps: EvidenceDeps, cause: RollbackCause): Promise<string> =>
  mintEvidenceRecord(deps, {
    actorId: cause.agent,
    act: ROLLBACK_CAUSED_ACT,
    par: cause.from === undefined ? [] : [cause.from],
    wid: cause.workflow,
    input: { compensated: cause.compensated },
    outcome: "ok",
    ext: { [`${TETHER_EXT_PREFIX}rollback`]: { reason: cause.reason.slice(0, 512), compensated: cause.compensated.length } },
  }).then((r) => r.jti);
