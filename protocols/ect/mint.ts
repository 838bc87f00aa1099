import { randomUUID, type KeyObject } from "node:crypto";
import type { CryptoKey } from "jose";
import { b64url, jwsSign } from "./jws-crypto.ts";
import { claimsError, EctClaims, EctClaimsInput } from "./claims.ts";
import { echo, ectError } from "./ect-errors.ts";
import { EctAlgorithms, EctTypes, isAcceptedTyp, isEctAlgorithm, type EctAlgorithm, type EctType } from "./header.ts";
import { EctDefaults, EctLimits } from "./limits.ts";
import { readClock } from "./verify-options.ts";

/** How the minters fill in `iat`, `exp` and `jti` when the caller leaves them out. */
export interface ClaimDefaultsOptions {
  /** Epoch milliseconds; default `Date.now`. `iat` = now in whole seconds. */
  readonly now?: () => number;
  /** `exp` = `iat` + ttlSeconds; default 600. */
  readonly ttlSeconds?: number;
  /** Source of `jti`; default `crypto.randomUUID`. */
  readonly newJti?: () => string;
}

export interface MintEctOptions extends ClaimDefaultsOptions {
  /** The issuer's private key (`SigningKey.privateKey`); it must suit `alg`. */
  readonly key: CryptoKey | KeyObject;
  /** JOSE `kid`: how verifiers find the public key. */
  readonly kid: string;
  /** Default ES256 (what the reference implementations verify). */
  readonly alg?: EctAlgorithm;
  /** Default `wimse-exec+jwt` (-00). */
  readonly typ?: EctType;
}

const MAX_TTL_SECONDS = 366 * 86_400;

/**
 * Validates the caller's claims, fills `iat` / `exp` / `jti`, and validates the result against
 * the one claims schema, so a minter can never emit what a verifier refuses.
 */
export const completeClaims = (input: unknown, options: ClaimDefaultsOptions): EctClaims => {
  const ttl = options.ttlSeconds ?? EctDefaults.ttlSeconds;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw ectError("ERR_CONFIG_INVALID", `ttlSeconds must be an integer in 1-${MAX_TTL_SECONDS}`, { ttlSeconds: echo(ttl) });
  }
  const parsed = EctClaimsInput.safeParse(input);
  if (!parsed.success) throw claimsError(parsed.error.issues);
  const { pred: _pred, ect_ext: _ectExt, ...given } = parsed.data;
  const iat = given.iat ?? Math.floor(readClock(options.now) / 1000);
  const exp = given.exp ?? iat + ttl;
  const jti = given.jti ?? (options.newJti ?? randomUUID)();
  const result = EctClaims.safeParse({ ...given, iat, exp, jti });
  if (!result.success) throw claimsError(result.error.issues);
  return result.data;
};

/** JSON of the claims, refusing what JSON cannot carry (a BigInt in an unknown claim, say). */
export const serializeClaims = (claims: EctClaims): string => {
  try {
    return JSON.stringify(claims);
  } catch (cause) {
    throw ectError("ERR_ECT_CLAIM_INVALID", "the ECT claims cannot be serialized as JSON", { claim: "(claims)" }, cause);
  }
};

export const assertTokenSize = (token: string): string => {
  if (token.length > EctLimits.maxTokenChars) {
    throw ectError("ERR_ECT_CLAIM_INVALID", `the ECT would be ${token.length} characters, more than ${EctLimits.maxTokenChars}`, {
      claim: "(claims)",
      length: token.length,
      limit: EctLimits.maxTokenChars,
    });
  }
  return token;
};

/**
 * Mints a signed ECT (L2): a compact JWS with header `{ alg, typ, kid }` over the claims in the
 * -00 names. Throws a TetherError: ERR_ECT_* for bad claims or header options, ERR_CONFIG_INVALID
 * when the key cannot sign with `alg`.
 */
export const mintEct = async (claims: EctClaimsInput, options: MintEctOptions): Promise<string> => {
  const alg = options.alg ?? "ES256";
  if (!isEctAlgorithm(alg)) {
    throw ectError("ERR_ECT_ALG_NOT_ALLOWED", `ECTs are signed with ${EctAlgorithms.join(" or ")}`, { alg: echo(alg) });
  }
  const { kid } = options;
  if (typeof kid !== "string" || kid.length === 0 || kid.length > EctLimits.maxKidChars) {
    throw ectError("ERR_ECT_KID_MISSING", `an ECT needs a kid of 1-${EctLimits.maxKidChars} characters`, { kid: echo(kid) });
  }
  const typ = options.typ ?? EctTypes.v00;
  if (!isAcceptedTyp(typ)) {
    throw ectError("ERR_ECT_TYP_INVALID", `typ must be ${EctTypes.v00} or ${EctTypes.v01}`, { typ: echo(typ) });
  }
  const payload = serializeClaims(completeClaims(claims, options));
  let token: string;
  try {
    // node:crypto directly (see jws-crypto.ts): the same compact JWS jose's CompactSign makes, without a WebCrypto job
    const input = `${b64url(JSON.stringify({ alg, typ, kid }))}.${b64url(payload)}`;
    token = `${input}.${jwsSign(input, alg, options.key)}`;
  } catch (cause) {
    throw ectError("ERR_CONFIG_INVALID", `the signing key cannot sign ${alg}`, { alg, kid: echo(kid) }, cause);
  }
  return assertTokenSize(token);
};
