import { z } from "zod";

/**
 * Assurance levels of an ECT (-01 working text), defined once for the whole project.
 * - L1: unsigned JSON (base64url); replay check still applies. Tether profile `relaxed`.
 * - L2: JOSE asymmetric signature. Tether profile `standard`.
 * - L3: L2 plus an audit-ledger receipt. Tether profile `regulated`. A token alone is never L3: the
 *   runtime decides it from the ledger.
 */
export const AssuranceLevel = z.enum(["L1", "L2", "L3"]);
export type AssuranceLevel = z.infer<typeof AssuranceLevel>;

/** Levels a token can prove by itself (signature or not): what `verifyEct` reports. */
export type EctLevel = Exclude<AssuranceLevel, "L3">;

/** Orders levels: L1 < L2 < L3. */
export const levelRank = (level: AssuranceLevel): number => AssuranceLevel.options.indexOf(level) + 1;
