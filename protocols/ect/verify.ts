import { jwsVerify, jwsVerifyOffloaded } from "./jws-crypto.ts";
import { assertTokenString, isUnsignedForm, parseJsonObject, splitCompactJws } from "./decode.ts";
import { callPort, echo, ectError, guardEct } from "./ect-errors.ts";
import { EctTypes, isAcceptedTyp, isEctAlgorithm, type EctHeader } from "./header.ts";
import { EctLimits } from "./limits.ts";
import { verifyUnsignedEct } from "./unsigned.ts";
import { verifyClaimStages } from "./verify-claims.ts";
import { resolvePolicy, type VerifyEctOptions } from "./verify-options.ts";
import type { EctVerification } from "./verified-ect.ts";

/** Maps a jose failure of `compactVerify` to an ECT code (by jose's stable `code` strings). */
const signatureFailure = (cause: unknown, kid: string, alg: string) => {
  const joseCode = (cause as { code?: unknown } | null)?.code;
  if (joseCode === "ERR_JWS_INVALID") {
    return ectError("ERR_ECT_MALFORMED", "the ECT is not a valid JWS", { kid: echo(kid), alg }, cause);
  }
  if (joseCode === "ERR_JOSE_ALG_NOT_ALLOWED") {
    return ectError("ERR_ECT_ALG_NOT_ALLOWED", `alg ${alg} is not allowed`, { kid: echo(kid), alg }, cause);
  }
  const reason = joseCode === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "signature mismatch" : "key unusable for this token";
  return ectError("ERR_ECT_SIGNATURE_INVALID", `the ECT signature does not verify with key ${echo(kid)}`, { kid: echo(kid), alg, reason }, cause);
};

/**
 * Verifies an ECT in the spec's order, one error code per failure:
 * 1. header (untrusted): compact JWS, else ERR_ECT_MALFORMED; `alg` on the allow-list (never
 *    `none`); `typ` accepted; `kid` present; key not revoked; key known; signature valid with that
 *    key and only that key's algorithm;
 * 2. claims well-formed (size limits have their own codes), audience, `exp`, `iat` age, `iat` future;
 * 3. `jti` not replayed (scope `wid`, else global), when a replay cache is given;
 * 4. parents exist (or are reported, with `allowMissingParents`); 5. none newer than the child
 *    beyond the skew; 6. no cycle, within a bounded walk.
 * An L1 token is ERR_ECT_MALFORMED unless `acceptUnsigned`, which hands it to `verifyUnsignedEct`.
 * Every failure is a TetherError; nothing else is thrown.
 */
export const verifyEct = (token: unknown, options: VerifyEctOptions): Promise<EctVerification> =>
  guardEct(async () => {
    const policy = resolvePolicy(options);
    const text = assertTokenString(token);
    if (isUnsignedForm(text)) {
      if (!policy.acceptUnsigned) {
        throw ectError("ERR_ECT_MALFORMED", "an unsigned (L1) ECT is not accepted here: expected a compact JWS", {
          reason: "unsigned token",
          acceptUnsigned: false,
        });
      }
      return verifyUnsignedEct(text, options);
    }

    // 1. The header, read without trusting it.
    const { header, headerSegment, payloadSegment, signatureSegment } = splitCompactJws(text);
    // *Tether*: `crit` is refused: no ECT extension needs one, and RFC 7515 says to refuse
    // critical parameters one does not implement.
    if (Object.hasOwn(header, "crit")) {
      throw ectError("ERR_ECT_MALFORMED", "the ECT header has critical parameters (crit), which Tether does not implement", {
        crit: echo(header["crit"]),
      });
    }
    const alg = header["alg"];
    if (!isEctAlgorithm(alg) || !policy.algorithms.includes(alg)) {
      throw ectError("ERR_ECT_ALG_NOT_ALLOWED", alg === "none" ? "alg none is never accepted" : `alg ${echo(alg)} is not allowed`, {
        alg: echo(alg),
        allowed: policy.algorithms,
      });
    }
    const typ = header["typ"];
    if (!isAcceptedTyp(typ)) {
      throw ectError("ERR_ECT_TYP_INVALID", `typ ${echo(typ)} is not ${EctTypes.v00} or ${EctTypes.v01}`, { typ: echo(typ) });
    }
    const kid = header["kid"];
    if (typeof kid !== "string" || kid.length === 0) {
      throw ectError("ERR_ECT_KID_MISSING", "the ECT header has no kid", { kid: echo(kid) });
    }
    if (kid.length > EctLimits.maxKidChars) {
      throw ectError("ERR_ECT_KID_UNKNOWN", "no trusted key has such a long kid", { kid: echo(kid) });
    }
    const { keys } = options;
    if (typeof keys?.resolve !== "function") {
      throw ectError("ERR_CONFIG_INVALID", "verifyEct needs options.keys (a KeyResolver)", {});
    }
    const revoked = await callPort("ERR_ECT_KID_UNKNOWN", "the key revocation check", () => keys.isRevoked?.(kid) ?? false);
    if (revoked === true) {
      throw ectError("ERR_ECT_KEY_REVOKED", `key ${echo(kid)} is revoked`, { kid: echo(kid) });
    }
    const resolved = await callPort("ERR_ECT_KID_UNKNOWN", "the key lookup", () => keys.resolve(kid));
    if (resolved === undefined || resolved === null) {
      throw ectError("ERR_ECT_KID_UNKNOWN", `no trusted key has kid ${echo(kid)}`, { kid: echo(kid) });
    }
    // A key is bound to one algorithm: an ES256 key never checks an EdDSA token, or the reverse.
    if (resolved.alg !== alg) {
      throw ectError("ERR_ECT_SIGNATURE_INVALID", `key ${echo(kid)} is a ${echo(resolved.alg)} key; the token claims ${alg}`, {
        kid: echo(kid),
        alg,
        keyAlg: echo(resolved.alg),
        reason: "algorithm mismatch",
      });
    }
    // node:crypto directly (see jws-crypto.ts): one synchronous verify instead of a WebCrypto job
    const signingInput = `${headerSegment}.${payloadSegment}`;
    const signed =
      signatureSegment !== "" &&
      (options.offloadSignature === true ? await jwsVerifyOffloaded(signingInput, signatureSegment, alg, resolved.key) : jwsVerify(signingInput, signatureSegment, alg, resolved.key));
    if (!signed) {
      throw signatureFailure({ code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" }, kid, alg);
    }
    const payload = Buffer.from(payloadSegment, "base64url");
    const verifiedHeader: EctHeader = { ...header, alg, typ, kid };

    // 2-6. Claims, replay, parents.
    const { claims, missingParents } = await verifyClaimStages(parseJsonObject(payload, "payload"), policy, options);
    return { level: "L2", header: verifiedHeader, claims, missingParents };
  });
