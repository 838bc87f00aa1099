import { parseWireClaims, type EctClaims } from "./claims.ts";
import { checkParents } from "./dag.ts";
import { callPort, echo, ectError } from "./ect-errors.ts";
import { GLOBAL_REPLAY_SCOPE } from "./replay-cache.ts";
import { readClock, type EctVerifyPolicy, type EctVerifyPorts } from "./verify-options.ts";

export interface ClaimStagesResult {
  readonly claims: EctClaims;
  readonly missingParents: string[];
}

const audiencesOf = (aud: EctClaims["aud"]): readonly string[] => (typeof aud === "string" ? [aud] : aud);

/** Step 2 after the schema: audience, then `exp`, then `iat` too old, then `iat` in the future. */
const checkAudienceAndTimes = (claims: EctClaims, policy: EctVerifyPolicy, nowSeconds: number): void => {
  const skew = policy.clockSkewSeconds;
  if (policy.audience !== undefined && !audiencesOf(claims.aud).includes(policy.audience)) {
    throw ectError("ERR_ECT_AUDIENCE_MISMATCH", `ECT ${claims.jti} is not addressed to ${echo(policy.audience)}`, {
      jti: claims.jti,
      expected: policy.audience,
      aud: audiencesOf(claims.aud).slice(0, 8).map(echo),
    });
  }
  const now = Math.floor(nowSeconds);
  // Expired once now reaches exp + skew (RFC 7519: the token is valid strictly before exp).
  if (nowSeconds >= claims.exp + skew) {
    throw ectError("ERR_ECT_EXPIRED", `ECT ${claims.jti} expired at ${claims.exp} (now ${now}, skew ${skew} s)`, {
      jti: claims.jti,
      exp: claims.exp,
      now,
      skewSeconds: skew,
    });
  }
  // *Tether*: the age limit is exact (no skew added): it is a policy bound, not a clock reading.
  if (nowSeconds - claims.iat > policy.maxAgeSeconds) {
    throw ectError("ERR_ECT_IAT_TOO_OLD", `ECT ${claims.jti} was issued at ${claims.iat}, more than ${policy.maxAgeSeconds} s ago`, {
      jti: claims.jti,
      iat: claims.iat,
      now,
      maxAgeSeconds: policy.maxAgeSeconds,
    });
  }
  if (claims.iat - nowSeconds > skew) {
    throw ectError("ERR_ECT_IAT_IN_FUTURE", `ECT ${claims.jti} is issued at ${claims.iat}, in the future beyond the ${skew} s skew`, {
      jti: claims.jti,
      iat: claims.iat,
      now,
      skewSeconds: skew,
    });
  }
};

/**
 * Validation steps 2-6, shared by the L2 (after the signature) and L1 paths.
 * 3: the jti is remembered until the token could no longer be accepted anyway, i.e. the earlier
 * of exp + skew and iat + maxAge. It is consumed even when a later step fails (*Tether*: the
 * spec's order puts the replay check first, and refusing a retry of a rejected token is the
 * safe side). *Tether*: the cache key uses the jti in lower case, since UUIDs are case-insensitive.
 */
export const verifyClaimStages = async (
  payload: Record<string, unknown>,
  policy: EctVerifyPolicy,
  ports: EctVerifyPorts,
): Promise<ClaimStagesResult> => {
  // 2. Claims present and well-typed, audience, times.
  const claims = parseWireClaims(payload);
  const nowMs = readClock(ports.now);
  checkAudienceAndTimes(claims, policy, nowMs / 1000);

  // 3. Not replayed, scoped to the workflow when there is one.
  const { replayCache } = ports;
  if (replayCache !== undefined) {
    const scope = claims.wid ?? GLOBAL_REPLAY_SCOPE;
    const expiresAt = Math.min(claims.exp + policy.clockSkewSeconds, claims.iat + policy.maxAgeSeconds) * 1000;
    const fresh = await callPort("ERR_ECT_REPLAYED", "the replay cache", () =>
      replayCache.checkAndRemember(scope, claims.jti.toLowerCase(), expiresAt),
    );
    if (fresh !== true) {
      throw ectError("ERR_ECT_REPLAYED", `ECT ${claims.jti} was already seen${claims.wid === undefined ? "" : ` in workflow ${claims.wid}`}`, {
        jti: claims.jti,
        scope,
      });
    }
  }

  // 4-6. Parents exist, are not newer, no cycle.
  const missingParents = await checkParents(claims, {
    store: ports.store,
    allowMissingParents: policy.allowMissingParents,
    clockSkewSeconds: policy.clockSkewSeconds,
    maxAncestors: policy.maxAncestors,
  });
  return { claims, missingParents };
};
