import { randomUUID } from "node:crypto";
import {
  TETHER_EXT_PREFIX,
  encodeBody,
  hasCode,
  isTetherError,
  mintEct,
  mintUnsignedEct,
} from "../../protocols/index.ts";
import type { ActionCall, ActionInterceptor } from "../actor/actor-types.ts";
import type { ScopeToken } from "../actor/execution-scope.ts";
import { agentUri, hashValue, networkAudience } from "../assurance/identity.ts";
import type { Logger } from "../support/logger.ts";
import type { EvidenceDeps } from "../assurance/evidence-record.ts";

/**
 * What the mint link needs: the evidence deps (`level`: what minted tokens carry, L2 for the regulated
 * profile with an async ledger; `signingKey`: undefined mints L1 unsigned tokens) and a logger.
 */
export interface MintDeps extends EvidenceDeps {
  readonly logger: Logger;
}

type Outcome = "ok" | "failed" | "refused";

/**
 * Mints the action's ECT whatever its outcome (ok, failed, refused), with the parent it continues, the
 * workflow id, input and output hashes, usage and the compensation that undoes it; stores it in the
 * DAG store; and makes it the token that messages sent afterwards carry.
 */
export const mintLink =
  (deps: MintDeps): ActionInterceptor =>
  async (call, next) => {
    const scope = call.scope;
    const parent = scope.current ?? scope.incoming;
    scope.wid ??= parent?.wid ?? randomUUID();
    let result: unknown;
    let failure: unknown;
    try {
      result = await next();
    } catch (error) {
      failure = error;
    }
    const outcome: Outcome = failure === undefined ? "ok" : hasCode(failure, "ERR_QUOTA_EXCEEDED") ? "refused" : "failed";
    const minted = await mint(deps, call, call.record.parent ?? parent, scope.wid, outcome, failure, result);
    scope.current = minted;
    call.record.minted = minted;
    if (failure !== undefined) throw failure;
    return result;
  };

const mint = async (deps: MintDeps, call: ActionCall, parent: ScopeToken | undefined, wid: string, outcome: Outcome, failure: unknown, result: unknown): Promise<ScopeToken> => {
  const undo =
    outcome === "ok" && call.compensate !== undefined
      ? { compensation: call.compensate, data: Buffer.from(encodeBody({ params: call.params, result })).toString("base64") }
      : undefined;
  const jti = randomUUID();
  const claims = {
    iss: agentUri(deps.network, call.actorId),
    aud: [networkAudience(deps.network)],
    jti,
    exec_act: call.name,
    par: parent === undefined ? [] : [parent.jti],
    wid,
    inp_hash: hashValue(call.params),
    ...(outcome === "ok" && result !== undefined ? { out_hash: hashValue(result) } : {}),
    ext: {
      [`${TETHER_EXT_PREFIX}node`]: deps.nodeId,
      [`${TETHER_EXT_PREFIX}outcome`]: outcome,
      [`${TETHER_EXT_PREFIX}level`]: deps.level,
      [`${TETHER_EXT_PREFIX}usage`]: call.record.usage ?? {},
      ...(failure === undefined ? {} : { [`${TETHER_EXT_PREFIX}error`]: isTetherError(failure) ? failure.code : "ERR_ACTOR_HANDLER_FAILED" }),
      ...(undo === undefined ? {} : { [`${TETHER_EXT_PREFIX}compensation`]: undo.compensation }),
    },
  };
  const now = () => deps.clock.now();
  const ttlSeconds = deps.tokenTtlSeconds;
  const key = deps.signingKey();
  const token = key === undefined ? mintUnsignedEct(claims, { now, ttlSeconds }) : await mintEct(claims, { key: key.privateKey, kid: key.kid, alg: key.alg, now, ttlSeconds });
  const record = {
    jti,
    iat: Math.floor(now() / 1000),
    par: claims.par,
    wid,
    iss: claims.iss,
    exec_act: call.name,
    level: deps.level,
    token,
    actor: call.actorId,
    at: now(),
    outcome,
    ...(undo === undefined ? {} : { undo }),
  };
  // an unsigned token without a compensation is needed by nobody before the action returns
  if (deps.level === "L1" && undo === undefined) void deps.store.put(record).catch((error: unknown) => deps.logger.warn("ECT not stored", { jti, error }));
  else await deps.store.put(record);
  return { token, jti, wid, level: deps.level, receipt: undefined };
};
