import { z } from "zod";
import { AssuranceLevel, AssuranceProfileName } from "../../protocols/index.ts";

/**
 * Assurance profiles: the same actor code runs at any of them, chosen by configuration alone.
 * - `relaxed` (L1): unsigned ECTs, replay check only. Development, K8s-fast.
 * - `standard` (L2): ES256/EdDSA-signed ECTs, verified on receipt (signature, claims, replay, DAG).
 * - `regulated` (L3): L2 plus every ECT appended to the audit ledger with a receipt before dependent
 *   work proceeds. With `ledger.mode: "async"` tokens are marked L2 instead ("says so downstream").
 */
export const AssuranceProfile = AssuranceProfileName;
export type AssuranceProfile = z.infer<typeof AssuranceProfile>;


export const QuotaRule = z.strictObject({
  /** What the quota counts per: one agent, one workflow (`wid`), or the whole network. */
  scope: z.enum(["agent", "workflow", "network"]),
  /** Limit only this agent id (scope `agent`); default: every agent separately. */
  id: z.string().max(128).optional(),
  /** `actions` counts ctx.act calls; any other unit is what agents report (e.g. `tokens`) or declare as `cost`. */
  unit: z.string().min(1).max(64),
  limit: z.number().positive(),
  /** Fixed window length; default one hour. */
  windowMs: z.number().int().positive().default(3_600_000),
});
export type QuotaRule = z.output<typeof QuotaRule>;

export const AssuranceOptions = z.strictObject({
  profile: AssuranceProfile.default("relaxed"),
  /** Tokens on incoming messages below this level are refused (ERR_ECT_LEVEL_TOO_LOW). Default: the profile's level. */
  minLevel: AssuranceLevel.optional(),
  /** Signature algorithm of this node's key (standard, regulated). */
  alg: z.enum(["ES256", "EdDSA"]).default("ES256"),
  /** Where the node's private key lives (file `<keyDir>/<network>/<nodeId>.jwk.json`, mode 0600). */
  keyDir: z.string().default(".tether/keys"),
  /** Lifetime of minted tokens. */
  tokenTtlSeconds: z.number().int().min(10).max(86_400).default(600),
  /** Allowed clock skew when verifying. */
  clockSkewSeconds: z.number().int().min(0).max(300).default(30),
  ledger: z
    .strictObject({
      /** `sync`: wait for the ledger's receipt (L3). `async`: append in the background, tokens count as L2. */
      mode: z.enum(["sync", "async"]).default("sync"),
      /** When the ledger does not answer: `fail` at once, or `wait` (retry) up to `timeoutMs`. */
      onUnavailable: z.enum(["wait", "fail"]).default("fail"),
      timeoutMs: z.number().int().positive().default(5_000),
      /** Actor id of the network's audit ledger. */
      actorId: z.string().max(128).default("audit"),
    })
    .prefault({}),
  quotas: z.array(QuotaRule).max(64).default([]),
});
export type AssuranceOptionsInput = z.input<typeof AssuranceOptions>;
export type AssuranceOptionsResolved = z.output<typeof AssuranceOptions>;

export const profileLevel = (profile: AssuranceProfile): AssuranceLevel =>
  profile === "relaxed" ? "L1" : profile === "standard" ? "L2" : "L3";
