import { KeyObject, sign, verify } from "node:crypto";
import type { CryptoKey } from "jose";
import type { EctAlgorithm } from "./header.ts";

/**
 * Raw JWS signatures (RFC 7515 / RFC 7518: ES256 as the 64-byte r||s, EdDSA as Ed25519) made with
 * node:crypto directly. jose 6 goes through WebCrypto, an asynchronous job per signature; the
 * per-message binding and the ledger's receipts sign on the hot path, so they use this: one
 * synchronous call, no promise, the same bytes jose produces and accepts.
 */

/** A node:crypto KeyObject for a WebCrypto CryptoKey (a handle to the same key: about 0.2 µs) or a KeyObject as it is. */
export const toKeyObject = (key: CryptoKey | KeyObject): KeyObject =>
  key instanceof KeyObject ? key : KeyObject.from(key as unknown as Parameters<typeof KeyObject.from>[0]);

/** True when `key` is an asymmetric key of `alg`'s kind: P-256 for ES256, Ed25519 for EdDSA (as jose checks). */
const fits = (alg: EctAlgorithm, key: KeyObject): boolean =>
  alg === "ES256" ? key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1" : key.asymmetricKeyType === "ed25519";

const options = (alg: EctAlgorithm, key: KeyObject) => {
  if (!fits(alg, key)) throw new TypeError(`the key is not a ${alg} key`);
  return alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" as const } : key;
};
const digestOf = (alg: EctAlgorithm): string | null => (alg === "ES256" ? "sha256" : null);

/** base64url signature of `signingInput` (the ASCII `<b64 header>.<b64 payload>`). */
export const jwsSign = (signingInput: string, alg: EctAlgorithm, key: CryptoKey | KeyObject): string =>
  sign(digestOf(alg), Buffer.from(signingInput, "ascii"), options(alg, toKeyObject(key))).toString("base64url");

/** True when `signature` (base64url) is `key`'s signature over `signingInput`; false on any malformed input. */
export const jwsVerify = (signingInput: string, signature: string, alg: EctAlgorithm, key: CryptoKey | KeyObject): boolean => {
  try {
    const bytes = Buffer.from(signature, "base64url");
    if (bytes.toString("base64url") !== signature) return false; // one spelling only
    return verify(digestOf(alg), Buffer.from(signingInput, "ascii"), options(alg, toKeyObject(key)), bytes);
  } catch {
    return false;
  }
};

/** `jwsVerify` on libuv's thread pool (node:crypto's callback form); resolves false on any malformed input. */
export const jwsVerifyOffloaded = (signingInput: string, signature: string, alg: EctAlgorithm, key: CryptoKey | KeyObject): Promise<boolean> =>
  new Promise((resolve) => {
    try {
      const bytes = Buffer.from(signature, "base64url");
      if (bytes.toString("base64url") !== signature) return resolve(false); // one spelling only
      verify(digestOf(alg), Buffer.from(signingInput, "ascii"), options(alg, toKeyObject(key)), bytes, (error, ok) => resolve(error === null && ok));
    } catch {
      resolve(false);
    }
  });

/** base64url of a string's UTF-8 bytes. */
export const b64url = (text: string): string => Buffer.from(text, "utf8").toString("base64url");
