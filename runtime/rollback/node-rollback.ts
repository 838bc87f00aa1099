import { compensationDigest, type ControlBody, type ControlEnvelope, type RollbackReport, type RollbackRequestInput } from "../../protocols/index.ts";
import type { Assurance } from "../assurance/assurance.ts";
import type { Outbound } from "../messaging/outbound.ts";
import type { NodeCore } from "../node-core.ts";
import { mintRollbackCause } from "./rollback-evidence.ts";
import { RollbackCoordinator } from "./rollback-coordinator.ts";

/** What signs the grants (the node's control signer). */
export interface GrantSigner {
  sign(body: ControlBody, target: string): Promise<ControlEnvelope>;
}

/**
 * A node's rollback: each compensation request goes to its actor, wherever it lives, with a grant
 * signed by the node's control key (an actor runs compensate() only for a verified grant).
 */
export const runNodeRollback = (request: RollbackRequestInput, core: NodeCore, assurance: Assurance, outbound: Outbound, signer: GrantSigner): Promise<RollbackReport> =>
  new RollbackCoordinator({
    store: assurance.store,
    compensate: async (actorId, req, timeoutMs) => {
      const grant = await signer.sign({ type: "tether.rollback.v1.compensate-grant", actorId, jti: req.jti, attempt: req.attempt, digest: compensationDigest(req) }, actorId);
      return outbound.requestCompensation(actorId, { type: "tether.rollback.v1.signed-compensate", request: req, grant }, timeoutMs);
    },
    clock: core.clock,
    logger: core.logger,
    emit: (event) => core.emit(event),
    recordEvent: (event, subject, details) => assurance.recordEvent(event, subject, details),
    recordCause: (cause) => mintRollbackCause(assurance.evidence, cause),
  }).run(request);
