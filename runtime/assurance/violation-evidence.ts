import { randomUUID } from "node:crypto";
import { TETHER_EXT_PREFIX, mintEct, mintUnsignedEct, type AssuranceLevel, type ProfileViolation, type SigningKey } from "../../protocols/index.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import type { KvEctStore } from "../stores/ect-store.ts";
import type { Clock } from "../support/clock.ts";
import { agentUri, hashValue, networkAudience } from "./identity.ts";

/** The ECT node type of a profile violation (`exec_act`). */
export const PROFILE_VIOLATION_ACT = "tether.profile.violation";

export interface EvidenceDeps {
  readonly network: string;
  readonly nodeId: string;
  readonly level: AssuranceLevel;
  readonly signingKey: () => SigningKey | undefined;
  readonly tokenTtlSeconds: number;
  readonly store: KvEctStore;
  readonly clock: Clock;
}

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
export const mintViolationEvidence = async (deps: EvidenceDeps, judged: Judged, violation: ProfileViolation): Promise<string> => {
  const jti = randomUUID();
  const wid = judged.wid ?? randomUUID();
  const par = judged.parent === undefined ? [] : [judged.parent.jti];
  const claims = {
    iss: agentUri(deps.network, judged.actorId),
    aud: [networkAudience(deps.network)],
    jti,
    exec_act: PROFILE_VIOLATION_ACT,
    par,
    wid,
    inp_hash: hashValue(judged.input),
    ext: {
      [`${TETHER_EXT_PREFIX}node`]: deps.nodeId,
      [`${TETHER_EXT_PREFIX}outcome`]: "refused",
      [`${TETHER_EXT_PREFIX}level`]: deps.level,
      [`${TETHER_EXT_PREFIX}violation`]: {
        kind: violation.kind,
        judged: violation.judged.slice(0, 256),
        response: violation.response,
        reason: violation.reason.slice(0, 512),
        message: judged.messageId.slice(0, 128),
      },
    },
  };
  const now = () => deps.clock.now();
  const key = deps.signingKey();
  const ttlSeconds = deps.tokenTtlSeconds;
  const token = key === undefined ? mintUnsignedEct(claims, { now, ttlSeconds }) : await mintEct(claims, { key: key.privateKey, kid: key.kid, alg: key.alg, now, ttlSeconds });
  await deps.store.put({
    jti,
    iat: Math.floor(now() / 1000),
    par,
    wid,
    iss: claims.iss,
    exec_act: PROFILE_VIOLATION_ACT,
    level: deps.level,
    token,
    actor: judged.actorId,
    at: now(),
    outcome: "refused",
  });
  return jti;
};
