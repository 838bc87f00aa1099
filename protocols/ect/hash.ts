import { createHash } from "node:crypto";

/**
 * SHA-256 of `data` as plain base64url (43 characters, no padding, no prefix): the form of
 * `inp_hash` / `out_hash`. A string is hashed as its UTF-8 bytes.
 */
export const sha256B64url = (data: Uint8Array | string): string =>
  createHash("sha256").update(data).digest("base64url");
