// How a node enforces behavioural profiles: the guard, its evidence minter and its response port.
import type { Assurance } from "./assurance/assurance.ts";
import { ProfileGuard, type OnViolation, type ViolationNotice } from "./assurance/profile-guard.ts";
import { mintViolationEvidence } from "./assurance/violation-evidence.ts";
import type { CellDirectory } from "./hosting/cell-directory.ts";
import type { NodeCore } from "./node-core.ts";

/**
 * Where a violation's response goes besides the default node event. Each is a port so the override
 * plane (pause, stop) and approval gates can take them over without touching the guard.
 */
export interface ViolationPorts {
  /** `quarantine`: default pauses the actor on this node for the profile's `quarantineMs` (`node.pauseActor`). */
  readonly quarantine?: (notice: ViolationNotice) => void;
  /** `escalate`: default records a `profile-escalation` event in the ledger for a person to pick up. */
  readonly escalate?: (notice: ViolationNotice) => void;
}

/**
 * The default response to a violation, after it was blocked and recorded: every violation is a
 * `profile-violation` node event; `quarantine` and `escalate` go to their ports. The network-wide
 * responses (`trust-penalty`, and quarantine through the override plane) are the trust actor's: it
 * reads the violation's evidence ECT from the ECT stream (docs/trust.md).
 */
export const defaultOnViolation = (core: NodeCore, assurance: Assurance, pause: Pause, ports: ViolationPorts): OnViolation => {
  const quarantine = ports.quarantine ?? ((n: ViolationNotice) => pause(n.actorId, n.quarantineMs));
  const escalate =
    ports.escalate ??
    ((n: ViolationNotice) =>
      void assurance.recordEvent("profile-escalation", n.actorId, { kind: n.kind, judged: n.judged, reason: n.reason, at: core.clock.now(), ...(n.evidence === undefined ? {} : { evidence: n.evidence }) }));
  return (notice) => {
    core.emit({
      type: "profile-violation",
      actorId: notice.actorId,
      kind: notice.kind,
      judged: notice.judged,
      response: notice.response,
      reason: notice.reason,
      evidence: notice.evidence,
    });
    if (notice.response === "quarantine") quarantine(notice);
    else if (notice.response === "escalate") escalate(notice);
  };
};

/** The node's profile guard: class declarations of local actors, evidence ECTs in the node's DAG store. */
/** Pauses a local actor (late-bound: the host is assembled after the action chain that uses the guard). */
export type Pause = (actorId: string, ms: number) => void;

export const openProfiles = (core: NodeCore, assurance: Assurance, directory: CellDirectory, pause: Pause, ports: ViolationPorts = {}): ProfileGuard => {
  const guard = new ProfileGuard({
    clock: core.clock,
    logger: core.logger,
    declared: (actorId) => directory.live(actorId)?.actorClass.profile,
    evidence: (judged, violation) => mintViolationEvidence(assurance.evidence, judged, violation),
    recordEvent: (event, subject, details) => assurance.recordEvent(event, subject, details),
    onViolation: defaultOnViolation(core, assurance, pause, ports),
  });
  core.onEvent((event) => {
    if (event.type === "actor-stopped") guard.forget(event.actorId);
  });
  return guard;
};
