export { ErrorCodes, isErrorCode } from "./error-codes.ts";
export type { ErrorCode } from "./error-codes.ts";
export { TetherError, isTetherError, hasCode, errorFromWire } from "./errors.ts";
export type { TetherErrorOptions } from "./errors.ts";
export { SUBJECT_PREFIX, isValidToken, assertToken, networkSubjects, registryKeys } from "./subjects.ts";
export type { NetworkSubjects } from "./subjects.ts";
export {
  HeaderNames,
  MessageKind,
  isMessageKind,
  DEFAULT_MAX_PAYLOAD_BYTES,
  ErrorReply,
  DeadLetterRecord,
  encodeBody,
  decodeBody,
  messageTypeOf,
} from "./envelope.ts";
export { ActorRecord, NodeRecord, isLeaseAlive } from "./registry.ts";
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
  EctLevels,
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
export { KeyRole, KeyStatus, KeyRecord } from "./keys.ts";
