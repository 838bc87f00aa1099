import { randomUUID } from "node:crypto";
import { TETHER_EXT_PREFIX, mintEct, mintUnsignedEct, type AssuranceLevel, type SigningKey } from "../../protocols/index.ts";
import type { KvEctStore } from "../stores/ect-store.ts";
import type { Clock } from "../support/clock.ts";
import { agentUri, hashValue, networkAudience } from "./identity.ts";

/** What a node needs to sign and store an evidence record. */
export interface EvidenceDeps {
  readonly network: string;
  readonly nodeId: string;
  readonly level: AssuranceLevel;
  readonly signingKey: () => SigningKey | undefined;
  readonly tokenTtlSeconds: number;
  readonly store: KvEctStore;
  readonly clock: Clock;
}

/** One evidence record: about `actorId` (its `iss`), of type `act`, judged by this node. */
export interface EvidenceRecord {
  readonly actorId: string;
  readonly act: string;
  readonly par: readonly string[];
  /** Default: a fresh id (the record then stands alone). */
  readonly wid: string | undefined;
  /** Hashed into `inp_hash`. */
  readonly input: unknown;
  /** `dev.tether.outcome` of the record. */
  readonly outcome: "ok" | "failed" | "refused";
  /** Extension claims beside the node, outcome and level. */
  readonly ext: Record<string, unknown>;
  /** Default: a random uuid (a caller that must name the record before it exists passes its own). */
  readonly jti?: string;
}

/**
 * Mints an evidence record (an ECT about an agent, signed by this node's key; unsigned L1 on a relaxed
 * network) and stores it in the ECT DAG store, where the trust actor and audits read it. Resolves with
 * its jti and token.
 */
export const mintEvidenceRecord = async (deps: EvidenceDeps, r: EvidenceRecord): Promise<{ jti: string; token: string }> => {
  const jti = r.jti ?? randomUUID();
  const wid = r.wid ?? randomUUID();
  const par = [...r.par];
  const claims = {
    iss: agentUri(deps.network, r.actorId),
    aud: [networkAudience(deps.network)],
    jti,
    exec_act: r.act,
    par,
    wid,
    inp_hash: hashValue(r.input),
    ext: { [`${TETHER_EXT_PREFIX}node`]: deps.nodeId, [`${TETHER_EXT_PREFIX}outcome`]: r.outcome, [`${TETHER_EXT_PREFIX}level`]: deps.level, ...r.ext },
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
    exec_act: r.act,
    level: deps.level,
    token,
    actor: r.actorId,
    at: now(),
    outcome: r.outcome,
  });
  return { jti, token };
};
