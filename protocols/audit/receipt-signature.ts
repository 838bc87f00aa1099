import type { KeyObject } from "node:crypto";
import type { CryptoKey } from "jose";
import { z } from "zod";
import { TetherError } from "../errors.ts";
import { b64url, isEctAlgorithm, jwsSign, jwsVerify, sha256B64url, type EctAlgorithm } from "../ect/index.ts";
import { echo } from "./audit-errors.ts";
import { Sha256B64url } from "./digest.ts";
import { ChainIndex } from "./fields.ts";
import { merkleRootAndProofs, verifyMerkleProof } from "./merkle.ts";

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

/** Receipts signed together at most (one append: the ledger takes at most 1000 entries). */
const MAX_BATCH = 4096;

/**
 * What the ledger actually signs, once per append: the network, `iat`, and the RFC 6962 Merkle root
 * over the leaves of the batch's receipts (`n` of them). A leaf is the SHA-256 of the canonical JSON
 * of one receipt's `ReceiptClaims`, so the signature commits to every receipt of the batch.
 */
export const ReceiptBatchClaims = z.strictObject({
  net: z.string().min(1).max(128),
  iat: z.number().int().nonnegative(),
  root: Sha256B64url,
  n: z.number().int().min(1).max(MAX_BATCH),
});
export type ReceiptBatchClaims = z.infer<typeof ReceiptBatchClaims>;

/** The token-specific half of a receipt: its claims' record and token, and its leaf's audit path. */
const ReceiptProof = z.strictObject({
  idx: ChainIndex,
  hash: Sha256B64url,
  jti: z.string().min(1).max(256),
  th: Sha256B64url,
  /** The leaf's position in the batch. */
  i: z.number().int().nonnegative(),
  path: z.array(Sha256B64url).max(16),
});

/**
 * The Merkle leaf of one receipt: SHA-256 of its claims as JSON with the members in a fixed (sorted)
 * order. Signer and verifier both derive it here, so one spelling per claims is all it needs.
 */
const receiptLeaf = (c: ReceiptClaims): string => sha256B64url(JSON.stringify({ hash: c.hash, iat: c.iat, idx: c.idx, jti: c.jti, net: c.net, th: c.th }));

/** Separates the signed batch (a compact JWS) from the token's proof in a receipt; not a base64url character. */
const PROOF_SEPARATOR = "~";

/**
 * Signs the receipts of one append with one signature: a compact JWS (`typ: tether-receipt+jwt`)
 * over `ReceiptBatchClaims` by the ledger's key, and for each receipt the proof that its claims are
 * leaf `i` of the signed root. Receipt `i` is `<JWS>~<base64url JSON proof>`: it proves that the ledger
 * recorded *this* token (jti and hash) at this index, and nothing about the batch's other tokens.
 * All claims must share `net` and `iat`. It travels on every message the token rides on, in the
 * `tether-receipt` header.
 */
export const signReceipts = (claims: readonly ReceiptClaims[], signer: ReceiptSigner): string[] => {
  const parsed = claims.map((c) => ReceiptClaims.parse(c));
  const [first] = parsed;
  if (first === undefined) return [];
  if (parsed.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} receipts are signed together`);
  if (parsed.some((c) => c.net !== first.net || c.iat !== first.iat)) throw new TypeError("receipts signed together share net and iat");
  const { root, proofs } = merkleRootAndProofs(parsed.map(receiptLeaf));
  const batch: ReceiptBatchClaims = { net: first.net, iat: first.iat, root, n: parsed.length };
  const input = `${b64url(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ: RECEIPT_TYP }))}.${b64url(JSON.stringify(batch))}`;
  const jws = `${input}.${jwsSign(input, signer.alg, signer.key)}`;
  return parsed.map((c, i) => `${jws}${PROOF_SEPARATOR}${b64url(JSON.stringify({ idx: c.idx, hash: c.hash, jti: c.jti, th: c.th, i, path: proofs[i] }))}`);
};

/** One receipt alone (a batch of one). */
export const signReceipt = (claims: ReceiptClaims, signer: ReceiptSigner): string => signReceipts([claims], signer)[0] as string;

/**
 * Signed batches already verified (exact JWS text → its claims and kid), shared by the receipts of
 * one append: a receiver checks the ledger's signature once per batch, the proof once per receipt.
 * Only `verifyReceiptSignature` fills it, and only after the signature verified.
 */
export class VerifiedReceiptBatches {
  readonly #entries = new Map<string, { readonly claims: ReceiptBatchClaims; readonly kid: string; readonly alg: string }>();
  constructor(readonly capacity = 1_024) {}
  get(jws: string) {
    return this.#entries.get(jws);
  }
  set(jws: string, entry: { readonly claims: ReceiptBatchClaims; readonly kid: string; readonly alg: string }): void {
    if (this.#entries.size >= this.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(jws, entry);
  }
}

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
 * by a key `resolveKey` accepts as an audit ledger's (with that key's own algorithm), over a batch of
 * this network whose Merkle root includes, by the receipt's audit path, the leaf of claims naming this
 * `jti` and the SHA-256 of this token. Returns the claims; throws ERR_RECEIPT_INVALID (with a `reason`)
 * otherwise. Errors of `resolveKey` are passed on. With `verified`, a batch whose signature verified
 * before is not verified again (its key is still resolved, so a revoked ledger key is refused).
 */
export const verifyReceiptSignature = async (
  receipt: string,
  expect: ReceiptExpectation,
  resolveKey: ResolveReceiptKey,
  verified?: VerifiedReceiptBatches,
): Promise<ReceiptClaims> => {
  if (typeof receipt !== "string" || receipt.length === 0 || receipt.length > MAX_RECEIPT_CHARS) throw invalid("missing or too long");
  const halves = receipt.split(PROOF_SEPARATOR);
  const parts = (halves[0] ?? "").split(".");
  if (halves.length !== 2 || parts.length !== 3 || parts.some((p) => p === "")) throw invalid("not a compact JWS with a proof", { receipt: echo(receipt) });
  const jws = halves[0] as string;
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
  const known = verified?.get(jws);
  let batch: ReceiptBatchClaims;
  if (known !== undefined && known.kid === kid && known.alg === alg) batch = known.claims;
  else {
    if (!jwsVerify(`${h}.${p}`, signature, alg, key.key)) throw invalid(`the signature does not verify with key ${kid}`, { kid });
    const claims = ReceiptBatchClaims.safeParse(decodeJson(p));
    if (!claims.success) throw invalid("the claims are not a receipt batch's");
    batch = claims.data;
    verified?.set(jws, { claims: batch, kid, alg });
  }
  if (batch.net !== expect.network) throw invalid(`the receipt is for network ${batch.net}`, { network: echo(batch.net) });
  const proof = ReceiptProof.safeParse(decodeJson(halves[1] as string));
  if (!proof.success) throw invalid("the proof is not a receipt proof");
  const { i, path, ...leaf } = proof.data;
  const c: ReceiptClaims = { net: batch.net, idx: leaf.idx, hash: leaf.hash, jti: leaf.jti, th: leaf.th, iat: batch.iat };
  if (c.jti !== expect.jti || c.th !== receiptTokenHash(expect.token)) {
    throw invalid("the receipt records another token", { receiptJti: echo(c.jti), jti: echo(expect.jti) });
  }
  if (!verifyMerkleProof(receiptLeaf(c), i, batch.n, path, batch.root)) throw invalid("the proof does not lead to the signed root", { kid });
  return c;
};
