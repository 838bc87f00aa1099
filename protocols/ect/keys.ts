import { createPrivateKey, createPublicKey } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { echo, ectError } from "./ect-errors.ts";
import { EctAlgorithms, isEctAlgorithm, type EctAlgorithm } from "./header.ts";
import { algorithmOf, EctPrivateJwk, EctPublicJwk, publicMembers, publishableJwk } from "./jwk.ts";

/** A private key that signs ECTs, with what a verifier needs to know about it. */
export interface SigningKey {
  /** JOSE `kid` put in every token this key signs. */
  readonly kid: string;
  readonly alg: EctAlgorithm;
  /** Extractable, so that `exportPrivateJwk` can persist it. */
  readonly privateKey: CryptoKey;
  /** The public half to publish (key registry, JWKS): key members plus `kid`, `alg`, `use: "sig"`. */
  readonly publicJwk: EctPublicJwk;
}

export interface GenerateSigningKeyOptions {
  /** Default: the RFC 7638 JWK thumbprint (SHA-256) of the public key. */
  readonly kid?: string;
}

const configError = (message: string, details: Record<string, unknown>, cause?: unknown) =>
  ectError("ERR_CONFIG_INVALID", message, details, cause);

/** Makes a fresh key pair for signing ECTs: ES256 (P-256, the default) or EdDSA (Ed25519). */
export const generateSigningKey = async (
  alg: EctAlgorithm = "ES256",
  options: GenerateSigningKeyOptions = {},
): Promise<SigningKey> => {
  if (!isEctAlgorithm(alg)) {
    throw ectError("ERR_ECT_ALG_NOT_ALLOWED", `ECT keys are ${EctAlgorithms.join(" or ")}`, { alg: echo(alg) });
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const members = publicMembers(EctPublicJwk.parse({ ...(await exportJWK(publicKey)), kid: "-" }));
  const kid = options.kid ?? (await calculateJwkThumbprint(members));
  return { kid, alg, privateKey, publicJwk: publishableJwk(members, kid) };
};

/** The private key as a JWK (with `kid`, `alg`, `use`), to persist; keep the result secret. */
export const exportPrivateJwk = async (key: SigningKey): Promise<JWK> => {
  try {
    return { ...(await exportJWK(key.privateKey)), kid: key.kid, alg: key.alg, use: "sig" };
  } catch (cause) {
    throw configError("the signing key cannot be exported (was it created non-extractable?)", { kid: key.kid }, cause);
  }
};

/**
 * Loads a signing key saved by `exportPrivateJwk` (or any EC P-256 / OKP Ed25519 private JWK).
 * The public members must belong to `d`; `kid` defaults to the thumbprint. Throws ERR_CONFIG_INVALID.
 */
export const importPrivateJwk = async (jwk: unknown): Promise<SigningKey> => {
  const parsed = EctPrivateJwk.safeParse(jwk);
  if (!parsed.success) {
    throw configError("not an EC P-256 or OKP Ed25519 private JWK", {
      issues: parsed.error.issues.slice(0, 8).map((i) => `${i.path.map(String).join(".")}: ${i.message}`),
    });
  }
  const data = parsed.data;
  const alg = algorithmOf(data);
  const members = publicMembers(data);
  const material = { ...members, d: data.d };
  let privateKey: CryptoKey | Uint8Array;
  try {
    // Derive the public key from `d` and compare, so a key file with mismatched halves never loads.
    const derived = createPublicKey(createPrivateKey({ key: material, format: "jwk" })).export({ format: "jwk" });
    if (derived.x !== members.x || (members.kty === "EC" && derived.y !== members.y)) {
      throw new Error("the public members do not match the private scalar d");
    }
    privateKey = await importJWK(material, alg, { extractable: true });
  } catch (cause) {
    throw configError("the private JWK does not hold a usable key", { kid: data.kid ?? null }, cause);
  }
  if (privateKey instanceof Uint8Array) throw configError("the private JWK is not an asymmetric key", {});
  const kid = data.kid ?? (await calculateJwkThumbprint(members));
  return { kid, alg, privateKey, publicJwk: publishableJwk(members, kid) };
};
