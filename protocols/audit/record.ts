import { z } from "zod";
import { auditError, echo } from "./audit-errors.ts";
import { canonicalJson, canonicalJsonBytes } from "./canonical-json.ts";
import { GENESIS_HASH, Sha256B64url, sha256Text } from "./digest.ts";
import { ChainIndex, COMPACT_JWS, EpochMs, EpochSeconds, NetworkName } from "./fields.ts";
import { AuditLimits } from "./limits.ts";

/** Wire type of every ledger record. */
export const AUDIT_RECORD_TYPE = "tether.audit.v1.record";

/** What a record holds; `body` has one form per kind. */
export const RecordKinds = ["ect", "event", "checkpoint"] as const;
export type RecordKind = (typeof RecordKinds)[number];

/** ECT assurance levels (see specs/ECT.md): L1 unsigned, L2 signed, L3 signed and in a ledger. */
export const AssuranceLevels = ["L1", "L2", "L3"] as const;
export type AssuranceLevel = (typeof AssuranceLevels)[number];

/**
 * Events Tether itself writes. The `event` field is open (any dotted lower-case name); these are
 * the names the runtime uses, so readers can switch on them.
 */
export const AuditEvents = {
  keyRotated: "key.rotated",
  keyRevoked: "key.revoked",
  overrideStop: "override.stop",
  approvalGranted: "approval.granted",
  approvalRejected: "approval.rejected",
  violation: "violation",
} as const;
export type KnownAuditEvent = (typeof AuditEvents)[keyof typeof AuditEvents];

/** L1: one base64url segment; L2/L3: a compact JWS (three segments, non-empty signature). */
const UNSIGNED_TOKEN = /^[A-Za-z0-9_-]+$/;
/** `key.rotated`, `violation`, `com.example.audit_note`: dotted lower-case labels. */
const EVENT_NAME = /^[a-z][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*$/;

const Id = z.string().min(1).max(AuditLimits.maxIdChars);

const isJsonObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/** Size of `value` as canonical JSON, or undefined when it is not JSON at all. */
const jsonBytes = (value: unknown): number | undefined => {
  try {
    return canonicalJsonBytes(value);
  } catch {
    return undefined;
  }
};

/**
 * A JSON object of at most `maxBytes` (canonical form, UTF-8). `z.custom` passes the value through
 * untouched, so the parsed record hashes exactly as the stored one (z.record would drop keys such
 * as `__proto__` and change the hash).
 */
const JsonObject = (maxBytes: number) =>
  z.custom<Record<string, unknown>>((value) => {
    if (!isJsonObject(value)) return false;
    const bytes = jsonBytes(value);
    return bytes !== undefined && bytes <= maxBytes;
  }, { error: `must be a JSON object of at most ${maxBytes} bytes` });

/** An Execution Context Token as it was presented, with the claims the ledger indexes by. */
export const EctBody = z
  .strictObject({
    token: z.string().min(1).max(AuditLimits.maxTokenChars),
    jti: Id,
    wid: Id.optional(),
    iss: z.string().min(1).max(AuditLimits.maxUriChars),
    exec_act: z.string().min(1).max(AuditLimits.maxNameChars),
    par: z.array(Id).max(AuditLimits.maxParents),
    iat: EpochSeconds,
    level: z.enum(AssuranceLevels),
    ext: JsonObject(AuditLimits.maxExtBytes).optional(),
  })
  .refine((body) => (body.level === "L1" ? UNSIGNED_TOKEN.test(body.token) : COMPACT_JWS.test(body.token)), {
    error: "an L1 token must be one base64url segment, an L2/L3 token a compact JWS",
    path: ["token"],
  });
export type EctBody = z.infer<typeof EctBody>;

/** Something that happened to the network: a key rotated, an override, an approval, a violation. */
export const EventBody = z.strictObject({
  event: z.string().max(AuditLimits.maxNameChars).regex(EVENT_NAME, { error: "must be a dotted lower-case name" }),
  subject: Id.optional(),
  details: JsonObject(AuditLimits.maxDetailsBytes),
});
export type EventBody = z.infer<typeof EventBody>;

/**
 * A signed statement over the records with indexes `fromIndex..toIndex`: their Merkle root and the
 * hash of the last one. `signature` is the compact JWS made by `signCheckpoint` (checkpoint.ts).
 */
export const CheckpointBody = z
  .strictObject({
    fromIndex: ChainIndex,
    toIndex: ChainIndex,
    merkleRoot: Sha256B64url,
    lastHash: Sha256B64url,
    signature: z.string().max(AuditLimits.maxSignatureChars).regex(COMPACT_JWS, { error: "must be a compact JWS" }),
  })
  .refine((body) => body.fromIndex <= body.toIndex, { error: "fromIndex must not exceed toIndex", path: ["toIndex"] });
export type CheckpointBody = z.infer<typeof CheckpointBody>;

const common = {
  type: z.literal(AUDIT_RECORD_TYPE),
  network: NetworkName,
  index: ChainIndex,
  prevHash: Sha256B64url,
  at: EpochMs,
  hash: Sha256B64url,
};

export const EctRecord = z.strictObject({ ...common, kind: z.literal("ect"), body: EctBody });
export type EctRecord = z.infer<typeof EctRecord>;
export const EventRecord = z.strictObject({ ...common, kind: z.literal("event"), body: EventBody });
export type EventRecord = z.infer<typeof EventRecord>;
export const CheckpointRecord = z.strictObject({ ...common, kind: z.literal("checkpoint"), body: CheckpointBody });
export type CheckpointRecord = z.infer<typeof CheckpointRecord>;

/**
 * One entry of a network's tamper-evident audit ledger. `index` is its position in the chain,
 * `prevHash` the `hash` of the record before it (`GENESIS_HASH` for index 0), and `hash` is
 * base64url(SHA-256(canonicalJson(the record without `hash`))).
 */
export const LedgerRecord = z.discriminatedUnion("kind", [EctRecord, EventRecord, CheckpointRecord]);
export type LedgerRecord = z.infer<typeof LedgerRecord>;

/** What `appendRecord` needs: everything but the chain fields, which it fills in. */
export type AppendRecordInput =
  | { readonly network: string; readonly kind: "ect"; readonly body: z.input<typeof EctBody>; readonly at: number }
  | { readonly network: string; readonly kind: "event"; readonly body: z.input<typeof EventBody>; readonly at: number }
  | {
      readonly network: string;
      readonly kind: "checkpoint";
      readonly body: z.input<typeof CheckpointBody>;
      readonly at: number;
    };

const issuesOf = (error: z.ZodError): string[] =>
  error.issues.slice(0, 8).map((issue) => `${issue.path.map(String).join(".") || "(record)"}: ${issue.message}`);

/**
 * base64url(SHA-256(canonicalJson(record without `hash`))). Works on a parsed record and on raw
 * input alike (verifiers hash what was stored). Throws ERR_AUDIT_CANONICAL_JSON for non-JSON input.
 */
export const hashRecord = (record: object): string => {
  const { hash: _ignored, ...rest } = record as Record<string, unknown>;
  return sha256Text(canonicalJson(rest));
};

/**
 * Validates a record's shape (not its hash nor its place in the chain: see `verifyLedger`).
 * Throws ERR_AUDIT_RECORD_INVALID, with the first issues in `details.issues`.
 */
export const parseRecord = (value: unknown): LedgerRecord => {
  const parsed = LedgerRecord.safeParse(value);
  if (!parsed.success) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "not a valid audit ledger record", { issues: issuesOf(parsed.error) });
  }
  try {
    // Every string must be well-formed UTF-16 (no lone surrogate), or the record has no canonical form.
    canonicalJson(parsed.data);
  } catch (cause) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "the record has no canonical JSON form", { issues: [] }, cause);
  }
  return parsed.data;
};

/** Like `parseRecord`, without throwing. */
export const safeParseRecord = (value: unknown): LedgerRecord | undefined => {
  try {
    return parseRecord(value);
  } catch {
    return undefined;
  }
};

export interface AppendRecordOptions {
  /**
   * `prev` was produced (and validated) by this same writer, e.g. the ledger actor chaining its own
   * records: skip re-parsing and re-hashing it. Never set this for a record read from storage.
   */
  readonly trustedPrev?: boolean;
}

/**
 * The record that follows `prev` (or the genesis record when `prev` is undefined): `index`,
 * `prevHash` and `hash` filled in. `prev` must be a sound record of the same network (its hash is
 * re-derived). Throws ERR_AUDIT_RECORD_INVALID when `prev` or the input is not valid.
 */
export const appendRecord = (prev: LedgerRecord | undefined, input: AppendRecordInput, options: AppendRecordOptions = {}): LedgerRecord => {
  if (prev !== undefined && options.trustedPrev !== true) {
    const before = parseRecord(prev);
    if (hashRecord(before) !== before.hash) {
      throw auditError("ERR_AUDIT_RECORD_INVALID", "the previous record's hash does not match its content", {
        index: before.index,
      });
    }
    if (before.network !== input.network) {
      throw auditError("ERR_AUDIT_RECORD_INVALID", "a ledger holds the records of one network", {
        network: echo(input.network),
        expected: before.network,
      });
    }
    if (before.index >= Number.MAX_SAFE_INTEGER) {
      throw auditError("ERR_AUDIT_RECORD_INVALID", "the ledger is full (index overflow)", { index: before.index });
    }
  }
  const unsigned = {
    type: AUDIT_RECORD_TYPE,
    network: input.network,
    index: prev === undefined ? 0 : prev.index + 1,
    prevHash: prev === undefined ? GENESIS_HASH : prev.hash,
    kind: input.kind,
    at: input.at,
    body: input.body,
  };
  // Parse before hashing, so the hash covers the validated form (the placeholder hash is replaced).
  const record = parseRecord({ ...unsigned, hash: GENESIS_HASH });
  return { ...record, hash: hashRecord(record) };
};
