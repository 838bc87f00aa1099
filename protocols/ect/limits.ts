/**
 * Fixed bounds of the ECT format. The draft fixes `maxParents`, `maxExtBytes`, `maxExtDepth` and
 * `maxAncestors`; the others are Tether's (*Tether*: the drafts set no size for these fields, every
 * field can be hostile, so each has a cap well above any real use).
 */
export const EctLimits = {
  /** Reference cap on `par` / `pred` entries. */
  maxParents: 100,
  /** `ext` / `ect_ext` serialized with `JSON.stringify`, counted in UTF-8 bytes. */
  maxExtBytes: 4096,
  /** The `ext` object itself is level 1; each nested object or array adds one. */
  maxExtDepth: 5,
  /** Nodes visited by the acyclicity check before giving up (reported as ERR_ECT_CYCLE). */
  maxAncestors: 10_000,
  /** *Tether*: a whole token (compact JWS or L1 segment), in characters. */
  maxTokenChars: 65_536,
  /** *Tether*: `iss` and each `aud` entry. */
  maxUriChars: 2048,
  /** *Tether*: entries in an `aud` array. */
  maxAudiences: 64,
  /** `exec_act`. */
  maxActionChars: 256,
  /** *Tether*: one parent id in `par`. */
  maxParentIdChars: 256,
  /** *Tether*: a JOSE `kid`, and an `ext` key. */
  maxKidChars: 256,
  maxExtKeyChars: 256,
} as const;

/** Defaults of the reference implementations (see ECT.md), used when options leave them out. */
export const EctDefaults = {
  /** exp = iat + 600 s. */
  ttlSeconds: 600,
  /** Reject `iat` older than 900 s. */
  maxAgeSeconds: 900,
  /** Allowed clock disagreement for `exp`, future `iat` and parent order. */
  clockSkewSeconds: 30,
} as const;
