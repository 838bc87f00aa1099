import { base64url } from "jose";
import type { EctClaimsInput } from "./claims.ts";
import { assertTokenString, decodePayloadSegment, isUnsignedForm } from "./decode.ts";
import { ectError, guardEct } from "./ect-errors.ts";
import { assertTokenSize, completeClaims, serializeClaims, type ClaimDefaultsOptions } from "./mint.ts";
import { verifyClaimStages } from "./verify-claims.ts";
import { resolvePolicy, type VerifyUnsignedEctOptions } from "./verify-options.ts";
import type { VerifiedUnsignedEct } from "./verified-ect.ts";

/**
 * Mints an L1 (unsigned) ECT. *Tether*: the -01 text says only "unsigned JSON (base64url)", so an
 * L1 token is exactly `base64url(UTF-8 JSON of the claims)`: one segment, no dots, no header.
 * It cannot be mistaken for a JWS, and it is never an `alg: none` JWT (which every verifier refuses).
 */
export const mintUnsignedEct = (claims: EctClaimsInput, options: ClaimDefaultsOptions = {}): string =>
  assertTokenSize(base64url.encode(serializeClaims(completeClaims(claims, options))));

/**
 * Verifies an L1 token: validation steps 2-6 (claims, times, replay, parents), no signature.
 * Anything that is not a single base64url segment holding a JSON object is ERR_ECT_MALFORMED.
 */
export const verifyUnsignedEct = (token: unknown, options: VerifyUnsignedEctOptions = {}): Promise<VerifiedUnsignedEct> =>
  guardEct(async () => {
    const policy = resolvePolicy(options);
    const text = assertTokenString(token);
    if (!isUnsignedForm(text)) {
      throw ectError("ERR_ECT_MALFORMED", "an L1 ECT is one base64url segment; this one has dots (a JWS goes to verifyEct)", {
        reason: "not an unsigned token",
      });
    }
    const { claims, missingParents } = await verifyClaimStages(decodePayloadSegment(text), policy, options);
    return { level: "L1", header: undefined, claims, missingParents };
  });
