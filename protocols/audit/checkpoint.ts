import type { KeyObject } from "node:crypto";
import { CompactSign, compactVerify, decodeProtectedHeader, type CryptoKey } from "jose";
import { z } from "zod";
import { isTetherError } from "../errors.ts";
import { auditError, echo } from "./audit-errors.ts";
import { canonicalJson } from "./canonical-json.ts";
import { Sha256B64url } from "./digest.ts";
import { ChainIndex, COMPACT_JWS, EpochSeconds, NetworkName } from "./fields.ts";
import { AuditLimits } from "./limits.ts";
import { merkleRoot } from "./merkle.ts";
import type { LedgerRecord } from "./record.ts";

/** JOSE `typ` of a checkpoint signature. */
export const CHECKPOINT_TYP = "tether-audit-checkpoint+jwt";

/** Algorithms a checkpoint may be signed with (the ECT allow-list); `none` is never among them. */
export const CheckpointAlgorithms = ["ES256", "EdDSA"] as const;
export type CheckpointAlgorithm = (typeof CheckpointAlgorithms)[number];

const isCheckpointAlgorithm = (value: unknown): value is CheckpointAlgorithm => value === "ES256" || value === "EdDSA";

/** What a checkpoint signature covers. `iat` is in seconds, as in a JWT. */
export const CheckpointPayload = z
  .strictObject({
    network: NetworkName,
    fromIndex: ChainIndex,
    toIndex: ChainIndex,
    merkleRoot: Sha256B64url,
    lastHash: Sha256B64url,
    iat: EpochSeconds,
  })
  .refine((payload) => payload.fromIndex <= payload.toIndex, {
    error: "fromIndex must not exceed toIndex",
    path: ["toIndex"],
  });
export type CheckpointPayload = z.infer<typeof CheckpointPayload>;

/** The private key a ledger keeper signs checkpoints with. */
export interface CheckpointSigner {
  readonly key: CryptoKey | KeyObject | Uint8Array;
  readonly kid: string;
  readonly alg: CheckpointAlgorithm;
}

/** A verification key and the one algorithm it may be used with (`alg` is checked against the header). */
export interface CheckpointKey {
  readonly key: CryptoKey | KeyObject | Uint8Array;
  readonly alg: string;
}

/**
 * Finds a checkpoint verification key by `kid` (Tether: the key registry). Undefined means unknown:
 * the checkpoint is invalid. A throw means the lookup itself failed: it is passed on (a TetherError
 * as it is, anything else as ERR_AUDIT_KEY_LOOKUP_FAILED), never taken as evidence of tampering.
 */
export type ResolveCheckpointKey = (kid: string) => Promise<CheckpointKey | undefined>;

/** The part of a checkpoint body that `checkpointRange` computes and the signature covers. */
export interface CheckpointRange {
  readonly fromIndex: number;
  readonly toIndex: number;
  readonly merkleRoot: string;
  readonly lastHash: string;
}

const invalid = (reason: string, details: Record<string, unknown> = {}, cause?: unknown) =>
  auditError("ERR_AUDIT_CHECKPOINT_INVALID", `invalid checkpoint: ${reason}`, { reason, ...details }, cause);

/**
 * Signs a checkpoint: a compact JWS with header `{ alg, kid, typ: "tether-audit-checkpoint+jwt" }`
 * over the canonical JSON of `{ network, fromIndex, toIndex, merkleRoot, lastHash, iat }`.
 * `iat` (seconds) is the caller's: this module reads no clock. Throws ERR_AUDIT_CHECKPOINT_INVALID.
 */
export const signCheckpoint = async (
  payload: z.input<typeof CheckpointPayload>,
  signer: CheckpointSigner,
): Promise<string> => {
  const parsed = CheckpointPayload.safeParse(payload);
  if (!parsed.success) {
    throw invalid("the payload is not a valid checkpoint", {
      issues: parsed.error.issues.slice(0, 8).map((i) => `${i.path.map(String).join(".")}: ${i.message}`),
    });
  }
  if (!isCheckpointAlgorithm(signer.alg)) {
    throw invalid(`checkpoints are signed with ${CheckpointAlgorithms.join(" or ")}`, { alg: echo(signer.alg) });
  }
  if (typeof signer.kid !== "string" || signer.kid.length === 0 || signer.kid.length > AuditLimits.maxIdChars) {
    throw invalid("the signer needs a kid", { kid: echo(signer.kid) });
  }
  try {
    return await new CompactSign(new TextEncoder().encode(canonicalJson(parsed.data)))
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: CHECKPOINT_TYP })
      .sign(signer.key);
  } catch (cause) {
    throw invalid("the key cannot sign with this algorithm", { alg: signer.alg, kid: signer.kid }, cause);
  }
};

const resolveWith = async (resolveKey: ResolveCheckpointKey, kid: string): Promise<CheckpointKey | undefined> => {
  try {
    return await resolveKey(kid);
  } catch (cause) {
    if (isTetherError(cause)) throw cause;
    throw auditError("ERR_AUDIT_KEY_LOOKUP_FAILED", "looking up the checkpoint key failed", { kid: echo(kid) }, cause);
  }
};

/**
 * Verifies a checkpoint signature and returns what it signed. The header must have `typ`
 * `tether-audit-checkpoint+jwt`, a `kid`, and `alg` ES256 or EdDSA equal to the resolved key's.
 * Throws ERR_AUDIT_CHECKPOINT_INVALID (details.reason says why); a failing `resolveKey` is passed on.
 */
export const verifyCheckpointSignature = async (
  jws: unknown,
  resolveKey: ResolveCheckpointKey,
): Promise<CheckpointPayload> => {
  if (typeof jws !== "string" || jws.length > AuditLimits.maxSignatureChars || !COMPACT_JWS.test(jws)) {
    throw invalid("the signature is not a compact JWS", { signature: echo(jws) });
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws) as Record<string, unknown>;
  } catch (cause) {
    throw invalid("the JOSE header is not readable", {}, cause);
  }
  const { alg, kid, typ } = header;
  if (!isCheckpointAlgorithm(alg)) throw invalid(`alg must be ${CheckpointAlgorithms.join(" or ")}`, { alg: echo(alg) });
  if (typ !== CHECKPOINT_TYP) throw invalid(`typ must be ${CHECKPOINT_TYP}`, { typ: echo(typ) });
  if (typeof kid !== "string" || kid.length === 0 || kid.length > AuditLimits.maxIdChars) {
    throw invalid("the JOSE header has no usable kid", { kid: echo(kid) });
  }
  const resolved = await resolveWith(resolveKey, kid);
  if (resolved === undefined) throw invalid("no trusted key has this kid", { kid });
  if (resolved.alg !== alg) throw invalid("the key is for another algorithm", { kid, alg, keyAlg: echo(resolved.alg) });
  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(jws, resolved.key, { algorithms: [alg] }));
  } catch (cause) {
    throw invalid("the signature does not verify", { kid, alg }, cause);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payloadBytes));
  } catch (cause) {
    throw invalid("the payload is not UTF-8 JSON", { kid }, cause);
  }
  const parsed = CheckpointPayload.safeParse(json);
  if (!parsed.success) {
    throw invalid("the payload is not a checkpoint", {
      kid,
      issues: parsed.error.issues.slice(0, 8).map((i) => `${i.path.map(String).join(".")}: ${i.message}`),
    });
  }
  return parsed.data;
};

/**
 * What a checkpoint over records `fromIndex..toIndex` states: their Merkle root and the last hash.
 * `records` is the chain (or a slice of it) in order; the range must be in it, with consecutive
 * indexes. Throws ERR_AUDIT_RECORD_INVALID otherwise.
 */
export const checkpointRange = (
  records: readonly LedgerRecord[],
  fromIndex: number,
  toIndex: number,
): CheckpointRange => {
  const start = records.findIndex((record) => record.index === fromIndex);
  const count = toIndex - fromIndex + 1;
  const covered = start < 0 || count < 1 ? [] : records.slice(start, start + count);
  if (covered.length !== count || count < 1 || covered.some((record, i) => record.index !== fromIndex + i)) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "the records do not hold the checkpoint's range", {
      fromIndex: echo(fromIndex),
      toIndex: echo(toIndex),
    });
  }
  const last = covered[covered.length - 1] as LedgerRecord;
  return { fromIndex, toIndex, merkleRoot: merkleRoot(covered.map((record) => record.hash)), lastHash: last.hash };
};

/** True when a verified payload states exactly what the checkpoint body (and its record) says. */
export const payloadMatchesBody = (
  payload: CheckpointPayload,
  network: string,
  body: CheckpointRange,
): boolean =>
  payload.network === network &&
  payload.fromIndex === body.fromIndex &&
  payload.toIndex === body.toIndex &&
  payload.merkleRoot === body.merkleRoot &&
  payload.lastHash === body.lastHash;
