import { createHash } from "node:crypto";
import { z } from "zod";

/**
 * A SHA-256 digest in base64url without padding: 43 characters, the last one carrying only
 * 4 bits (so each digest has exactly one accepted spelling).
 */
const SHA256_B64URL = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

export const isSha256B64url = (value: unknown): value is string => typeof value === "string" && SHA256_B64URL.test(value);

export const Sha256B64url = z.string().regex(SHA256_B64URL, { error: "must be a base64url SHA-256 digest (43 characters)" });

/** `prevHash` of the genesis record (index 0): 43 "A"s, i.e. 32 zero bytes. */
export const GENESIS_HASH = "A".repeat(43);

/** SHA-256 of the concatenated parts. */
export const sha256 = (...parts: readonly Uint8Array[]): Buffer => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** base64url(SHA-256(UTF-8 of `text`)). */
export const sha256Text = (text: string): string => createHash("sha256").update(text, "utf8").digest("base64url");

/** The 32 bytes of a digest already checked with `isSha256B64url`. */
export const digestBytes = (b64url: string): Buffer => Buffer.from(b64url, "base64url");
