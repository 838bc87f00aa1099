export { AuditLimits } from "./limits.ts";
export { canonicalJson } from "./canonical-json.ts";
export { GENESIS_HASH } from "./digest.ts";
export {
  AUDIT_RECORD_TYPE,
  RecordKinds,
  AssuranceLevels,
  AuditEvents,
  EctBody,
  EventBody,
  CheckpointBody,
  EctRecord,
  EventRecord,
  CheckpointRecord,
  LedgerRecord,
  hashRecord,
  parseRecord,
  safeParseRecord,
  appendRecord,
} from "./record.ts";
export type { RecordKind, AssuranceLevel, KnownAuditEvent, AppendRecordInput, AppendRecordOptions } from "./record.ts";
export { chainOwnRecord } from "./own-record.ts";
export type { ChainedRecord } from "./own-record.ts";
export { LEDGER_BATCH_FORMAT, encodeLedgerBatch, ledgerMessageRecords, chainedMessageRecords } from "./ledger-message.ts";
export { merkleRoot, merkleProof, merkleRootAndProofs, verifyMerkleProof } from "./merkle.ts";
export {
  CHECKPOINT_TYP,
  CheckpointAlgorithms,
  CheckpointPayload,
  signCheckpoint,
  verifyCheckpointSignature,
  checkpointRange,
} from "./checkpoint.ts";
export type {
  CheckpointAlgorithm,
  CheckpointSigner,
  CheckpointKey,
  ResolveCheckpointKey,
  CheckpointRange,
} from "./checkpoint.ts";
export { RECORD_SEAL_TYP, RECORD_SEAL_HEADER, sealRecord, recordSealValid } from "./record-seal.ts";
export { Receipt, receiptFor, verifyReceipt } from "./receipt.ts";
export type { ReceiptVerdict } from "./receipt.ts";
export { RECEIPT_TYP, ReceiptBatchClaims, ReceiptClaims, VerifiedReceiptBatches, receiptTokenHash, signReceipt, signReceipts, verifyReceiptSignature } from "./receipt-signature.ts";
export type { ReceiptSigner, ReceiptKey, ResolveReceiptKey, ReceiptExpectation } from "./receipt-signature.ts";
export { LedgerProblems, verifyLedger, verifyLedgerStream, LedgerVerifier } from "./verify-ledger.ts";
export type { LedgerProblemKind, LedgerProblem, LedgerVerdict, VerifyLedgerOptions, LedgerVerifierOptions } from "./verify-ledger.ts";
export { stitchWorkflow } from "./stitch.ts";
export type { LedgerSource, StitchedStep, StitchResult, StitchOptions } from "./stitch.ts";
