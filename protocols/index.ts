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
