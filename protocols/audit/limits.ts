/**
 * Fixed bounds of the audit ledger format (*Tether*: nothing external fixes them; every field can
 * be hostile, so each has a cap well above any real use). `ext` and `par` follow the ECT draft.
 */
export const AuditLimits = {
  /** A network name, as a NATS subject token (`protocols/subjects.ts` uses the same rule). */
  maxNetworkChars: 128,
  /** `ect.token`: a compact JWS or an L1 token, in characters. */
  maxTokenChars: 16_384,
  /** `jti`, `wid`, each `par` entry, an event `subject`, a JOSE `kid`. */
  maxIdChars: 256,
  /** `iss` (a URI). */
  maxUriChars: 2048,
  /** `exec_act` and an event name. */
  maxNameChars: 256,
  /** Entries in `par` (the ECT draft's reference cap). */
  maxParents: 100,
  /** `ect.ext`, as canonical JSON in UTF-8 bytes (the ECT draft's cap). */
  maxExtBytes: 4096,
  /** `event.details`, as canonical JSON in UTF-8 bytes. */
  maxDetailsBytes: 8192,
  /** A checkpoint's compact JWS, in characters. */
  maxSignatureChars: 4096,
  /** Siblings in a Merkle proof: enough for 2^64 leaves. */
  maxProofLength: 64,
  /** Nesting of arrays and objects that `canonicalJson` accepts before refusing. */
  maxJsonDepth: 256,
} as const;
