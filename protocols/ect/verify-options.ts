import { z } from "zod";
import { ectError } from "./ect-errors.ts";
import type { EctStore } from "./ect-store.ts";
import { EctAlgorithms } from "./header.ts";
import type { KeyResolver } from "./key-resolver.ts";
import { EctDefaults, EctLimits } from "./limits.ts";
import type { ReplayCache } from "./replay-cache.ts";

/** The data part of the verifier's options; each default is documented on its field. */
export const EctVerifyPolicy = z.strictObject({
  /** JWS algorithms accepted; default both ES256 and EdDSA. `none` cannot be listed. */
  algorithms: z.array(z.enum(EctAlgorithms)).min(1).max(EctAlgorithms.length).default([...EctAlgorithms]),
  /** The verifier's own id; when set it must be in `aud`. Default: `aud` is not checked. */
  audience: z.string().min(1).max(EctLimits.maxUriChars).optional(),
  /** Allowed clock disagreement, seconds; default 30. */
  clockSkewSeconds: z.int().min(0).max(3600).default(EctDefaults.clockSkewSeconds),
  /** Oldest `iat` accepted, seconds before now; default 900. */
  maxAgeSeconds: z.int().min(1).max(366 * 86_400).default(EctDefaults.maxAgeSeconds),
  /** Ancestor nodes visited by the acyclicity check; default 10,000. */
  maxAncestors: z.int().min(1).max(1_000_000).default(EctLimits.maxAncestors),
  /** Relaxed profile: report parents missing from the store instead of rejecting; default false. */
  allowMissingParents: z.boolean().default(false),
  /** Let `verifyEct` take L1 (unsigned) tokens; default false, i.e. they are ERR_ECT_MALFORMED. */
  acceptUnsigned: z.boolean().default(false),
});
export type EctVerifyPolicy = z.output<typeof EctVerifyPolicy>;

/** Ports the verifier calls; none is required. */
export interface EctVerifyPorts {
  /** Epoch milliseconds; default `Date.now`. Inject a fixed clock in tests. */
  readonly now?: () => number;
  /** Step 3 runs only when given. A receiver that must refuse replays has to pass one. */
  readonly replayCache?: ReplayCache;
  /** Where parents are looked up (steps 4-6); absent means every parent is missing. */
  readonly store?: EctStore;
}

/** Options of `verifyUnsignedEct` (L1): no keys, no algorithms. */
export type VerifyUnsignedEctOptions = Omit<z.input<typeof EctVerifyPolicy>, "algorithms" | "acceptUnsigned"> & EctVerifyPorts;

/** Options of `verifyEct` (L2, or L1 when `acceptUnsigned`). */
export type VerifyEctOptions = z.input<typeof EctVerifyPolicy> &
  EctVerifyPorts & {
    /** Finds the issuer's public key by `kid`. */
    readonly keys: KeyResolver;
    /**
     * Check the signature on libuv's thread pool (node:crypto's callback form) instead of the calling
     * thread: slower for one token, but a reader verifying a batch concurrently (the trust actor reading
     * the ECT stream) then uses the other cores. Default false (one synchronous verify).
     */
    readonly offloadSignature?: boolean;
  };

/** Reads the policy fields out of an options object; ERR_CONFIG_INVALID when one is out of range. */
export const resolvePolicy = (options: Partial<Record<keyof EctVerifyPolicy, unknown>>): EctVerifyPolicy => {
  if (typeof options !== "object" || options === null) {
    throw ectError("ERR_CONFIG_INVALID", "ECT verification options must be an object", {});
  }
  const result = EctVerifyPolicy.safeParse({
    algorithms: options.algorithms,
    audience: options.audience,
    clockSkewSeconds: options.clockSkewSeconds,
    maxAgeSeconds: options.maxAgeSeconds,
    maxAncestors: options.maxAncestors,
    allowMissingParents: options.allowMissingParents,
    acceptUnsigned: options.acceptUnsigned,
  });
  if (!result.success) {
    throw ectError("ERR_CONFIG_INVALID", "invalid ECT verification options", {
      issues: result.error.issues.slice(0, 8).map((i) => `${i.path.map(String).join(".")}: ${i.message}`),
    });
  }
  return result.data;
};

/** Reads the injected clock, refusing a clock that does not return a time. */
export const readClock = (now: (() => number) | undefined): number => {
  const ms = (now ?? Date.now)();
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw ectError("ERR_CONFIG_INVALID", "the ECT clock did not return epoch milliseconds", {});
  }
  return ms;
};
