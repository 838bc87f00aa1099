// Execution Context Tokens (draft-nennemann-wimse-ect): minting and verification, pure (no IO).
export { TETHER_EXT_PREFIX, EctClaims, EctWireClaims, EctClaimsInput, Sha256B64url } from "./claims.ts";
export { EctLimits, EctDefaults } from "./limits.ts";
export { EctAlgorithms, isEctAlgorithm, EctTypes, isAcceptedTyp, EctHeader } from "./header.ts";
export { EctPublicJwk, EctPrivateJwk } from "./jwk.ts";
export { generateSigningKey, exportPrivateJwk, importPrivateJwk } from "./keys.ts";
export { JwksKeyResolver } from "./key-resolver.ts";
export { GLOBAL_REPLAY_SCOPE, MemoryReplayCache } from "./replay-cache.ts";
export { MemoryEctStore } from "./ect-store.ts";
export { sha256B64url } from "./hash.ts";
export { mintEct } from "./mint.ts";
export { mintUnsignedEct, verifyUnsignedEct } from "./unsigned.ts";
export { verifyEct } from "./verify.ts";
export { decodeEctUnverified } from "./decode.ts";
export { EctVerifyPolicy } from "./verify-options.ts";
export { AssuranceLevel, levelRank } from "./levels.ts";
export type { EctLevel } from "./levels.ts";

export type { EctAlgorithm, EctType } from "./header.ts";
export type { SigningKey, GenerateSigningKeyOptions } from "./keys.ts";
export type { KeyResolver, ResolvedKey, JsonWebKeySet } from "./key-resolver.ts";
export type { ReplayCache, MemoryReplayCacheOptions } from "./replay-cache.ts";
export type { EctStore, StoredEct, MemoryEctStoreOptions } from "./ect-store.ts";
export type { MintEctOptions, ClaimDefaultsOptions } from "./mint.ts";
export type { VerifyEctOptions, VerifyUnsignedEctOptions, EctVerifyPorts } from "./verify-options.ts";
export type { EctVerification, VerifiedEct, VerifiedUnsignedEct } from "./verified-ect.ts";
export type { DecodedEct } from "./decode.ts";
