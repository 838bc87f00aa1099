import { randomUUID } from "node:crypto";
import { TETHER_EXT_PREFIX, mintEct, mintUnsignedEct, type AssuranceLevel } from "../protocols/index.ts";
import { agentUri, hashValue, networkAudience, type Node } from "../runtime/index.ts";

/** An ECT a built-in actor minted (approval request or decision, workflow step). */
export interface MintedEct {
  readonly jti: string;
  readonly token: string;
  readonly level: AssuranceLevel;
}

/** What a built-in actor records: who, what, which parents, which workflow, the input's hash, extension claims. */
export interface ActorEct {
  readonly actorId: string;
  readonly act: string;
  readonly par: readonly string[];
  readonly wid: string | undefined;
  readonly input: unknown;
  readonly ext: Record<string, unknown>;
  readonly outcome?: "ok" | "failed";
  /** Default: a random uuid (a caller that must name the ECT before it exists passes its own). */
  readonly jti?: string;
  readonly output?: unknown;
}

/**
 * Mints an ECT with explicit parents, signed with the node's key (L1 unsigned when it has none), and
 * stores it in the ECT DAG store. Built-in actors whose records join several parents (a workflow step
 * after its dependencies, a decision after its request) use this instead of `ctx.act`, whose parent is
 * always the message being handled. Tokens carry the node's real time.
 */
export const mintActorEct = async (node: Node, p: ActorEct): Promise<MintedEct> => {
  const assurance = node.assurance;
  const jti = p.jti ?? randomUUID();
  const outcome = p.outcome ?? "ok";
  const claims = {
    iss: agentUri(node.network, p.actorId),
    aud: [networkAudience(node.network)],
    jti,
    exec_act: p.act,
    par: [...p.par],
    ...(p.wid === undefined ? {} : { wid: p.wid }),
    inp_hash: hashValue(p.input),
    ...(p.output === undefined ? {} : { out_hash: hashValue(p.output) }),
    ext: { [`${TETHER_EXT_PREFIX}node`]: node.id, [`${TETHER_EXT_PREFIX}level`]: assurance.level, [`${TETHER_EXT_PREFIX}outcome`]: outcome, ...p.ext },
  };
  const now = () => node.clock.now();
  const ttlSeconds = node.options.assurance.tokenTtlSeconds;
  const key = assurance.signingKey;
  const token = key === undefined ? mintUnsignedEct(claims, { now, ttlSeconds }) : await mintEct(claims, { key: key.privateKey, kid: key.kid, alg: key.alg, now, ttlSeconds });
  const stored = assurance.store.put({
    jti,
    iat: Math.floor(now() / 1000),
    par: claims.par,
    ...(p.wid === undefined ? {} : { wid: p.wid }),
    iss: claims.iss,
    exec_act: p.act,
    level: assurance.level,
    token,
    actor: p.actorId,
    at: now(),
    outcome,
  });
  // as the mint link does: an unsigned (L1) record is needed by nobody before this returns
  if (assurance.level === "L1") void stored.catch(() => undefined);
  else await stored;
  return { jti, token, level: assurance.level };
};
