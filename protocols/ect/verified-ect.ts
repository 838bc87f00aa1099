import type { EctClaims } from "./claims.ts";
import type { EctHeader } from "./header.ts";

interface VerifiedBase {
  /** Normalized claims (-01 `pred` / `ect_ext` read as `par` / `ext`), unknown claims kept. */
  readonly claims: EctClaims;
  /** Parents not found in the store; non-empty only with `allowMissingParents`. */
  readonly missingParents: string[];
}

/** A token that passed every step with a signature (L2). */
export interface VerifiedEct extends VerifiedBase {
  readonly level: "L2";
  readonly header: EctHeader;
}

/** An unsigned token that passed steps 2-6 (L1). */
export interface VerifiedUnsignedEct extends VerifiedBase {
  readonly level: "L1";
  readonly header: undefined;
}

export type EctVerification = VerifiedEct | VerifiedUnsignedEct;
