import type { KeyObject } from "node:crypto";
import type { CryptoKey } from "jose";
import { z } from "zod";
import { TetherError } from "../errors.ts";
import { b64url, isEctAlgorithm, jwsSign, jwsVerify, sha256B64url, type EctAlgorithm } from "../ect/index.ts";
import { echo } from "./audit-errors.ts";
import { Sha256B64url } from "./digest.ts";
import { ChainIndex } from "./fields.ts";

/** JOSE `typ` of a ledger receipt. */
export const RECEIPT_TYP = "tether-receipt+jwt";
const MAX_RECEIPT_CHARS = 2048;

/**
 * What the audit ledger signs when it hands out a receipt for an ECT: the network, where the record
 * landed (index and record hash), and which token it records (its `jti` and the SHA-256 of the
 * token's compact form, `th`), at `iat` (seconds).
 */
export const ReceiptClaims = z.strictObject({
  net: z.string().min(1).max(128),
  idx: ChainIndex,
  hash: Sha256B64url,
  jti: z.string().min(1).max(256),
  th: Sha256B64url,
  iat: z.number().int().nonnegative(),
});
export type ReceiptClaims = z.infer<typeof ReceiptClaims>;

/** The ledger's key (role `audit`). */
export interface ReceiptSigner {
  readonly kid: string;
  readonly alg: EctAlgorithm;
  readonly key: CryptoKey | KeyObject;
}

/** A receipt verification key and the one algorithm it may be used with. */
export interface ReceiptKey {
  readonly key: CryptoKey | KeyObject;
  readonly alg: string;
}

/**
 * Finds the key of an audit ledger by `kid`; undefined when no such key verifies *as the ledger's*
 * (unknown, revoked, or a key of another role). A throw is passed on (not evidence of forgery).
 */
export type ResolveReceiptKey = (kid: string) => Promise<ReceiptKey | undefined>;

/** The hash a receipt names for a token: SHA-256 of its compact form (ASCII). */
export const receiptTokenHash = (token: string): string => sha256B64url(token);

/**
 * Signs a receipt: a compact JWS (`typ: tether-receipt+jwt`) over `ReceiptClaims` by the ledger's key.
 * It travels on every message the token rides on, in the `tether-receipt` header.
 */
export const signReceipt = (claims: ReceiptClaims, signer: ReceiptSigner): string => {
  const parsed = ReceiptClaims.parse(claims);
  const input = `${b64url(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ: RECEIPT_TYP }))}.${b64url(JSON.stringify(parsed))}`;
  return `${input}.${jwsSign(input, signer.alg, signer.key)}`;
};

/** What a receipt must be for: this network, this token. */
export interface ReceiptExpectation {
  readonly network: string;
  readonly jti: string;
  /** The token's compact form exactly as it travelled. */
  readonly token: string;
}

const invalid = (reason: string, details: Record<string, unknown> = {}): TetherError =>
  new TetherError("ERR_RECEIPT_INVALID", `the ledger receipt is invalid: ${reason}`, { details: { reason, ...details } });

const decodeJson = (part: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Verifies a receipt in full, never by its shape: a compact JWS with `typ: tether-receipt+jwt`, signed
 * by a key `resolveKey` accepts as an audit ledger's (with that key's own algorithm), whose claims name
 * this network, this `jti` and the SHA-256 of this token. Returns the claims; throws
 * ERR_RECEIPT_INVALID (with a `reason`) otherwise. Errors of `resolveKey` are passed on.
 */
export const verifyReceiptSignature = async (receipt: string, expect: ReceiptExpectation, resolveKey: ResolveReceiptKey): Promise<ReceiptClaims> => {
  if (typeof receipt !== "string" || receipt.length === 0 || receipt.length > MAX_RECEIPT_CHARS) throw invalid("missing or too long");
  const parts = receipt.split(".");
  if (parts.length !== 3 || parts.some((p) => p === "")) throw invalid("not a compact JWS", { receipt: echo(receipt) });
  const [h, p, signature] = parts as [string, string, string];
  const header = decodeJson(h);
  if (header === undefined) throw invalid("the header is not base64url JSON");
  if (header["typ"] !== RECEIPT_TYP) throw invalid(`typ is not ${RECEIPT_TYP}`, { typ: echo(header["typ"]) });
  if (Object.hasOwn(header, "crit") || Object.hasOwn(header, "b64")) throw invalid("unsupported header parameters");
  const { alg, kid } = header;
  if (!isEctAlgorithm(alg)) throw invalid(`alg ${String(echo(alg))} is not allowed`);
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 128) throw invalid("no usable kid");
  const key = await resolveKey(kid);
  if (key === undefined) throw invalid(`no audit ledger key has kid ${kid}`, { kid });
  if (key.alg !== alg) throw invalid(`key ${kid} is a ${key.alg} key; the receipt claims ${alg}`, { kid });
  if (!jwsVerify(`${h}.${p}`, signature, alg, key.key)) throw invalid(`the signature does not verify with key ${kid}`, { kid });
  const claims = ReceiptClaims.safeParse(decodeJson(p));
  if (!claims.success) throw invalid("the claims are not a receipt's");
  const c = claims.data;
  if (c.net !== expect.network) throw invalid(`the receipt is for network ${c.net}`, { network: echo(c.net) });
  if (c.jti !== expect.jti || c.th !== receiptTokenHash(expect.token)) {
    throw invalid("the receipt records another token", { receiptJti: echo(c.jti), jti: echo(expect.jti) });
  }
  return c;
};
