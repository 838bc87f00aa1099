export { ErrorCodes, isErrorCode } from "./error-codes.ts";
export type { ErrorCode } from "./error-codes.ts";
export { TetherError, isTetherError, hasCode, errorFromWire } from "./errors.ts";
export type { TetherErrorOptions } from "./errors.ts";
export { SUBJECT_PREFIX, isValidToken, assertToken, networkSubjects, registryKeys } from "./subjects.ts";
export type { NetworkSubjects } from "./subjects.ts";
export {
  HeaderNames,
  DEFAULT_MAX_PAYLOAD_BYTES,
  ErrorReply,
  DeadLetterRecord,
  encodeBody,
  decodeBody,
  messageTypeOf,
} from "./envelope.ts";
export { ENVELOPE_VERSION, EnvelopeKind, EnvelopeFlags, ENVELOPE_LIMITS, encodeSend, encodeReply, encodeError, encodeCredit, decodeEnvelope } from "./wire-envelope.ts";
export type { SendKind, WireEnvelope } from "./wire-envelope.ts";
export { ActorRecord, NodeRecord, FenceNotice, ActivateRequest, StopRequest, PauseRequest, FailureNotice, NodeControl, isLeaseAlive } from "./registry.ts";
export {
  TETHER_EXT_PREFIX,
  EctClaims,
  EctWireClaims,
  EctClaimsInput,
  Sha256B64url,
  EctLimits,
  EctDefaults,
  EctAlgorithms,
  isEctAlgorithm,
  EctTypes,
  isAcceptedTyp,
  EctHeader,
  EctPublicJwk,
  EctPrivateJwk,
  generateSigningKey,
  exportPrivateJwk,
  importPrivateJwk,
  JwksKeyResolver,
  GLOBAL_REPLAY_SCOPE,
  MemoryReplayCache,
  MemoryEctStore,
  sha256B64url,
  mintEct,
  mintUnsignedEct,
  verifyUnsignedEct,
  verifyEct,
  decodeEctUnverified,
  EctVerifyPolicy,
  AssuranceLevel,
  levelRank,
} from "./ect/index.ts";
export type {
  EctAlgorithm,
  EctType,
  SigningKey,
  GenerateSigningKeyOptions,
  KeyResolver,
  ResolvedKey,
  JsonWebKeySet,
  ReplayCache,
  MemoryReplayCacheOptions,
  EctStore,
  StoredEct,
  MemoryEctStoreOptions,
  MintEctOptions,
  ClaimDefaultsOptions,
  VerifyEctOptions,
  VerifyUnsignedEctOptions,
  EctVerifyPorts,
  EctVerification,
  VerifiedEct,
  VerifiedUnsignedEct,
  EctLevel,
  DecodedEct,
} from "./ect/index.ts";
export { KeyRole, KeyStatus, KeyRecord, KeyPublishRequest, KeyRevokeRequest } from "./keys.ts";
export { ControlOperations, ControlRoles, mayPerform, mayManageKey } from "./control-roles.ts";
export type { ControlOperation } from "./control-roles.ts";
export { MemberRole, MembershipRoles, MemberId, MemberRecord, MemberAddRequest, MemberRemoveRequest, ChangeActor, memberRoleOfKey, mayManageMember, memberMayHoldKey } from "./membership.ts";
export { AssuranceProfileName, NetworkPolicy, PolicySetRequest, PolicyLimits, defaultNetworkPolicy, profileRank, agentRefusal } from "./network-policy.ts";
export {
  GovernanceEntry,
  GovernanceAttestation,
  GovernanceBody,
  ATTESTATION_TYP,
  governanceKeys,
  entryKeyOf,
  governanceOperationOf,
  attestGovernance,
  verifyGovernanceEntry,
} from "./governance-entry.ts";
export type { HistoricKey, HistoricKeys, VerifiedGovernance } from "./governance-entry.ts";
export {
  CONTROL_TYP,
  ControlLimits,
  CompensationGrant,
  ControlBody,
  ControlClaims,
  ControlEnvelope,
  SignedCompensation,
  operationOf,
  compensationDigest,
  signControl,
  peekControl,
  verifyControl,
} from "./control.ts";
export type { SignControlOptions, ControlKey, ControlKeys, VerifyControlOptions, VerifiedControl, ControlRefusalContext } from "./control.ts";
export {
  AuditLimits,
  canonicalJson,
  GENESIS_HASH,
  AUDIT_RECORD_TYPE,
  RecordKinds,
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
  merkleRoot,
  merkleProof,
  verifyMerkleProof,
  CHECKPOINT_TYP,
  CheckpointAlgorithms,
  CheckpointPayload,
  signCheckpoint,
  verifyCheckpointSignature,
  checkpointRange,
  Receipt,
  receiptFor,
  verifyReceipt,
  LedgerProblems,
  verifyLedger,
  verifyLedgerStream,
  RECORD_SEAL_TYP,
  RECORD_SEAL_HEADER,
  sealRecord,
  recordSealValid,
  LedgerVerifier,
  stitchWorkflow,
} from "./audit/index.ts";
export type {
  RecordKind,
  KnownAuditEvent,
  AppendRecordInput,
  AppendRecordOptions,
  CheckpointAlgorithm,
  CheckpointSigner,
  CheckpointKey,
  ResolveCheckpointKey,
  CheckpointRange,
  ReceiptVerdict,
  LedgerProblemKind,
  LedgerProblem,
  LedgerVerdict,
  VerifyLedgerOptions,
  LedgerVerifierOptions,
  LedgerSource,
  StitchedStep,
  StitchResult,
  StitchOptions,
} from "./audit/index.ts";
export { AuditEntry, AuditMsg, AuditReceipt } from "./audit-wire.ts";
export { CompensationRequest, RollbackRequest, RollbackStepOutcome } from "./rollback.ts";
export type { RollbackRequestInput, RollbackStep, RollbackReport } from "./rollback.ts";
export { SlotMsg, SlotGrant } from "./slots.ts";
export { EdgeReport, CascadeMonitorMessage, CascadeMonitorState } from "./cascade.ts";
export { BreakerState, BreakerSnapshot } from "./breaker.ts";
export {
  SupervisorMessage,
  SupervisorStartRequest,
  SupervisorChildFailed,
  SupervisorChildEscalated,
  SupervisorReconcile,
  SupervisorShutdown,
  SupervisorStatusRequest,
  SupervisorPhase,
  SupervisedChild,
  SupervisorCheckpoint,
  SupervisorStatus,
} from "./supervision.ts";
