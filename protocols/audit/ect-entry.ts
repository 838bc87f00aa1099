import { Buffer } from "node:buffer";
import type { EctBody } from "./record.ts";

/**
 * An `ect` record repeats some claims of its token so the ledger can be indexed and stitched
 * without decoding tokens. This checks that they are the token's own (its payload is decoded, not
 * verified: signatures are the ECT verifier's job, and keys may have rotated since). -01 names
 * (`pred`) are accepted for `par`. Returns what differs, or undefined.
 */
export const ectBodyMismatch = (body: EctBody): string | undefined => {
  const segments = body.token.split(".");
  const payloadSegment = segments.length === 1 ? segments[0] : segments[1];
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(payloadSegment ?? "", "base64url")));
  } catch {
    return "the token payload is not base64url JSON";
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) return "the token payload is not a JSON object";
  const token = claims as Record<string, unknown>;
  const parents = token["par"] ?? token["pred"];
  const differing: string[] = [];
  if (token["jti"] !== body.jti) differing.push("jti");
  if (token["iss"] !== body.iss) differing.push("iss");
  if (token["exec_act"] !== body.exec_act) differing.push("exec_act");
  if (token["iat"] !== body.iat) differing.push("iat");
  if (token["wid"] !== body.wid) differing.push("wid");
  if (!Array.isArray(parents) || parents.length !== body.par.length || parents.some((p, i) => p !== body.par[i])) {
    differing.push("par");
  }
  return differing.length === 0 ? undefined : `the body's ${differing.join(", ")} differ from the token's claims`;
};
