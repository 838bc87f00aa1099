import { z } from "zod";
import type { EctAlgorithm } from "./header.ts";
import { EctLimits } from "./limits.ts";

/** A 32-byte value in base64url: P-256 coordinates and scalars, Ed25519 keys. */
const Bytes32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const Kid = z.string().min(1).max(EctLimits.maxKidChars);
/**
 * A key published for ECTs may say it is for signatures, nothing else. Optional members are
 * `exactOptional` so a parsed JWK is assignable to jose's `JWK` under exactOptionalPropertyTypes.
 */
const SignatureUse = z.literal("sig").exactOptional();

export const EcP256PublicJwk = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: Bytes32,
  y: Bytes32,
  kid: Kid,
  alg: z.literal("ES256").exactOptional(),
  use: SignatureUse,
});

/** `alg` may be `EdDSA` or the fully-specified `Ed25519` (RFC 9864); both mean EdDSA over Ed25519. */
export const Ed25519PublicJwk = z.looseObject({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: Bytes32,
  kid: Kid,
  alg: z.enum(["EdDSA", "Ed25519"]).exactOptional(),
  use: SignatureUse,
});

/** A public key that may verify ECTs: EC P-256 (ES256) or OKP Ed25519 (EdDSA), always with a `kid`. */
export const EctPublicJwk = z.discriminatedUnion("kty", [EcP256PublicJwk, Ed25519PublicJwk]);
export type EctPublicJwk = z.infer<typeof EctPublicJwk>;

/** A private signing key as persisted to disk; `kid` may be absent (the thumbprint is used). */
export const EctPrivateJwk = z.discriminatedUnion("kty", [
  EcP256PublicJwk.extend({ d: Bytes32, kid: Kid.exactOptional() }),
  Ed25519PublicJwk.extend({ d: Bytes32, kid: Kid.exactOptional() }),
]);
export type EctPrivateJwk = z.infer<typeof EctPrivateJwk>;

/** The key-type members only (what RFC 7638 hashes): never `d`, never anything the sender added. */
export type PublicKeyMembers = { kty: "EC"; crv: "P-256"; x: string; y: string } | { kty: "OKP"; crv: "Ed25519"; x: string };

export const publicMembers = (jwk: EctPublicJwk | EctPrivateJwk): PublicKeyMembers =>
  jwk.kty === "EC" ? { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y } : { kty: "OKP", crv: "Ed25519", x: jwk.x };

export const algorithmOf = (jwk: { kty: "EC" | "OKP" }): EctAlgorithm => (jwk.kty === "EC" ? "ES256" : "EdDSA");

/** The form Tether publishes a verification key in: key members plus `kid`, `alg` and `use: "sig"`. */
export const publishableJwk = (members: PublicKeyMembers, kid: string): EctPublicJwk =>
  EctPublicJwk.parse({ ...members, kid, alg: algorithmOf(members), use: "sig" });
