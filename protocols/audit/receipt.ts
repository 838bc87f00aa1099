import { z } from "zod";
import { auditError, echo, hasAuditCode } from "./audit-errors.ts";
import { checkpointRange, payloadMatchesBody, verifyCheckpointSignature, type ResolveCheckpointKey } from "./checkpoint.ts";
import { Sha256B64url } from "./digest.ts";
import { ChainIndex } from "./fields.ts";
import { AuditLimits } from "./limits.ts";
import { merkleProof, verifyMerkleProof } from "./merkle.ts";
import { hashRecord, safeParseRecord, type CheckpointRecord, type LedgerRecord } from "./record.ts";

/**
 * Proof that the record with `index` and `hash` is in the ledger: its Merkle audit path under the
 * checkpoint record with index `checkpointIndex` (the first checkpoint whose range covers it).
 */
export const Receipt = z.strictObject({
  index: ChainIndex,
  hash: Sha256B64url,
  checkpointIndex: ChainIndex,
  proof: z.array(Sha256B64url).max(AuditLimits.maxProofLength),
});
export type Receipt = z.infer<typeof Receipt>;

export type ReceiptVerdict =
  | { readonly ok: true; readonly network: string; readonly checkpointIndex: number }
  | { readonly ok: false; readonly reason: string };

/**
 * The receipt of record `index`, under the first checkpoint (in chain order) whose range covers it.
 * `records` must be a verified chain (see `verifyLedger`). Throws ERR_AUDIT_RECEIPT_UNAVAILABLE
 * (retryable) while no checkpoint covers the record yet, ERR_AUDIT_RECORD_INVALID when the record
 * is not in `records` or the checkpoint's root does not match them.
 */
export const receiptFor = (records: readonly LedgerRecord[], index: number): Receipt => {
  const record = records.find((candidate) => candidate.index === index);
  if (record === undefined) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "no record has this index", { index: echo(index) });
  }
  const checkpoint = records.find(
    (candidate): candidate is CheckpointRecord =>
      candidate.kind === "checkpoint" && candidate.body.fromIndex <= index && index <= candidate.body.toIndex,
  );
  if (checkpoint === undefined) {
    throw auditError("ERR_AUDIT_RECEIPT_UNAVAILABLE", "no checkpoint covers this record yet", { index });
  }
  const { fromIndex, toIndex } = checkpoint.body;
  const range = checkpointRange(records, fromIndex, toIndex);
  if (range.merkleRoot !== checkpoint.body.merkleRoot) {
    throw auditError("ERR_AUDIT_RECORD_INVALID", "the checkpoint's Merkle root does not match the records", {
      checkpointIndex: checkpoint.index,
    });
  }
  const start = records.indexOf(record) - (index - fromIndex);
  const hashes = records.slice(start, start + (toIndex - fromIndex + 1)).map((covered) => covered.hash);
  return { index, hash: record.hash, checkpointIndex: checkpoint.index, proof: merkleProof(hashes, index - fromIndex) };
};

/**
 * Checks a receipt against the checkpoint record it names: the record is sound (its own hash), its
 * signature verifies and states what its body says, the receipt's index is in its range, and the
 * audit path leads from the receipt's hash to its Merkle root. Hostile input gives `ok: false`, never
 * a throw; only a failing `resolveKey` is passed on (see `ResolveCheckpointKey`).
 */
export const verifyReceipt = async (
  receipt: unknown,
  checkpointRecord: unknown,
  options: { readonly resolveKey: ResolveCheckpointKey },
): Promise<ReceiptVerdict> => {
  const parsedReceipt = Receipt.safeParse(receipt);
  if (!parsedReceipt.success) return { ok: false, reason: "not a valid receipt" };
  const { index, hash, checkpointIndex, proof } = parsedReceipt.data;
  const checkpoint = safeParseRecord(checkpointRecord);
  if (checkpoint === undefined || checkpoint.kind !== "checkpoint") return { ok: false, reason: "not a checkpoint record" };
  if (hashRecord(checkpoint) !== checkpoint.hash) return { ok: false, reason: "the checkpoint record does not match its hash" };
  if (checkpoint.index !== checkpointIndex) return { ok: false, reason: "the receipt names another checkpoint" };
  const { fromIndex, toIndex } = checkpoint.body;
  if (index < fromIndex || index > toIndex) return { ok: false, reason: "the checkpoint does not cover this index" };
  try {
    const payload = await verifyCheckpointSignature(checkpoint.body.signature, options.resolveKey);
    if (!payloadMatchesBody(payload, checkpoint.network, checkpoint.body)) {
      return { ok: false, reason: "the checkpoint body differs from what its signature covers" };
    }
  } catch (error) {
    if (hasAuditCode(error, "ERR_AUDIT_CHECKPOINT_INVALID")) {
      return { ok: false, reason: error.message };
    }
    throw error;
  }
  if (!verifyMerkleProof(hash, index - fromIndex, toIndex - fromIndex + 1, proof, checkpoint.body.merkleRoot)) {
    return { ok: false, reason: "the audit path does not lead to the checkpoint's Merkle root" };
  }
  return { ok: true, network: checkpoint.network, checkpointIndex };
};
