import { z } from "zod";
import { EctLimits } from "./limits.ts";

/** JWS algorithms Tether signs and verifies ECTs with. `none` is never among them. */
export const EctAlgorithms = ["ES256", "EdDSA"] as const;
export type EctAlgorithm = (typeof EctAlgorithms)[number];

export const isEctAlgorithm = (value: unknown): value is EctAlgorithm =>
  value === "ES256" || value === "EdDSA";

/** JOSE `typ` values: `wimse-exec+jwt` is -00 (what Tether emits), `exec+jwt` is -01. */
export const EctTypes = { v00: "wimse-exec+jwt", v01: "exec+jwt" } as const;
export type EctType = (typeof EctTypes)[keyof typeof EctTypes];

const MEDIA_TYPE_PREFIX = "application/";

/**
 * True for `wimse-exec+jwt` and `exec+jwt`, compared case-insensitively and also with the
 * `application/` prefix (RFC 7515 §4.1.9 lets a producer send the full media type).
 */
export const isAcceptedTyp = (typ: unknown): typ is string => {
  if (typeof typ !== "string" || typ.length > 64) return false;
  const lower = typ.toLowerCase();
  const bare = lower.startsWith(MEDIA_TYPE_PREFIX) ? lower.slice(MEDIA_TYPE_PREFIX.length) : lower;
  return bare === EctTypes.v00 || bare === EctTypes.v01;
};

/**
 * The protected header of a verified ECT. Other header parameters are kept as they came
 * (they are covered by the signature); `crit` is refused before this point.
 */
export const EctHeader = z.looseObject({
  alg: z.enum(EctAlgorithms),
  typ: z.string().max(64),
  kid: z.string().min(1).max(EctLimits.maxKidChars),
});
export type EctHeader = z.infer<typeof EctHeader>;
