import type { CryptoKey as JoseKey } from "jose";
import { compactVerify, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import {
  RECEIPT_TYP,
  generateSigningKey,
  hasCode,
  mintEct,
  receiptTokenHash,
  signReceipt,
  verifyReceiptSignature,
  type ReceiptKey,
  type SigningKey,
} from "../../../protocols/index.ts";

const signerOf = (key: SigningKey) => ({ kid: key.kid, alg: key.alg, key: key.privateKey });
const resolverFor = async (...keys: SigningKey[]) => {
  const map = new Map<string, ReceiptKey>();
  for (const k of keys) map.set(k.kid, { key: (await importJWK(k.publicJwk, k.alg)) as JoseKey, alg: k.alg });
  return async (kid: string) => map.get(kid);
};
const tokenOf = (key: SigningKey, exec_act: string) =>
  mintEct({ iss: "tether://default/agent/a", aud: ["tether://default"], exec_act, par: [] }, { key: key.privateKey, kid: key.kid, alg: key.alg });

const codeOf = async (run: Promise<unknown>): Promise<string> => {
  try {
    await run;
    return "ok";
  } catch (error) {
    return hasCode(error, "ERR_RECEIPT_INVALID") ? `ERR_RECEIPT_INVALID: ${(error as { details?: { reason?: string } }).details?.reason ?? ""}` : String(error);
  }
};

describe("ledger receipts", () => {
  it("are signed by the ledger key over the network, the record and the token, and verify only for that token", async () => {
    const ledgerKey = await generateSigningKey("ES256");
    const nodeKey = await generateSigningKey("ES256");
    const token = await tokenOf(nodeKey, "first");
    const other = await tokenOf(nodeKey, "second");
    const jti = (t: string) => JSON.parse(Buffer.from(t.split(".")[1] as string, "base64url").toString()).jti as string;
    const claims = { net: "default", idx: 7, hash: "A".repeat(43), jti: jti(token), th: receiptTokenHash(token), iat: 1_700_000_000 };
    const receipt = signReceipt(claims, signerOf(ledgerKey));
    const resolve = await resolverFor(ledgerKey);

    // a standard compact JWS: jose verifies it
    const { protectedHeader, payload } = await compactVerify(receipt, (await importJWK(ledgerKey.publicJwk, "ES256")) as JoseKey);
    expect(protectedHeader).toEqual({ alg: "ES256", kid: ledgerKey.kid, typ: RECEIPT_TYP });
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual(claims);

    expect(await verifyReceiptSignature(receipt, { network: "default", jti: jti(token), token }, resolve)).toEqual(claims);
    expect(await codeOf(verifyReceiptSignature(receipt, { network: "default", jti: jti(other), token: other }, resolve))).toMatch(/another token/);
    expect(await codeOf(verifyReceiptSignature(receipt, { network: "default", jti: jti(token), token: other }, resolve))).toMatch(/another token/);
    expect(await codeOf(verifyReceiptSignature(receipt, { network: "elsewhere", jti: jti(token), token }, resolve))).toMatch(/network/);
  });

  it("refuses a made-up receipt, a receipt by a key that is not the ledger's, and a tampered one", async () => {
    const ledgerKey = await generateSigningKey("EdDSA");
    const nodeKey = await generateSigningKey("ES256");
    const token = await tokenOf(nodeKey, "act");
    const jti = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()).jti as string;
    const expect_ = { network: "default", jti, token };
    const claims = { net: "default", idx: 1, hash: "A".repeat(43), jti, th: receiptTokenHash(token), iat: 1 };
    const onlyLedger = await resolverFor(ledgerKey); // the node's key is not an audit key: unknown here
    const genuine = signReceipt(claims, signerOf(ledgerKey));
    expect(await codeOf(verifyReceiptSignature(genuine, expect_, onlyLedger))).toBe("ok");

    const [h, p, s] = genuine.split(".") as [string, string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, idx: 2 })).toString("base64url");
    const cases: [string, string, RegExp][] = [
      ["shape-only receipt", `999.${"A".repeat(43)}`, /not a compact JWS/],
      ["empty", "", /missing/],
      ["signed by a node key", signReceipt(claims, signerOf(nodeKey)), /no audit ledger key/],
      ["tampered payload", `${h}.${forgedPayload}.${s}`, /signature does not verify/],
      ["signature cut", `${h}.${p}.${s.slice(0, 10)}`, /signature does not verify/],
      ["wrong typ", `${Buffer.from(JSON.stringify({ alg: "EdDSA", kid: ledgerKey.kid, typ: "wimse-exec+jwt" })).toString("base64url")}.${p}.${s}`, /typ/],
      ["alg none", `${Buffer.from(JSON.stringify({ alg: "none", kid: ledgerKey.kid, typ: RECEIPT_TYP })).toString("base64url")}.${p}.${s}`, /alg/],
      ["alg swapped", `${Buffer.from(JSON.stringify({ alg: "ES256", kid: ledgerKey.kid, typ: RECEIPT_TYP })).toString("base64url")}.${p}.${s}`, /EdDSA key/],
      ["garbage header", `%%%.${p}.${s}`, /header/],
      ["too long", "a".repeat(5000), /too long/],
    ];
    for (const [what, receipt, reason] of cases) {
      const code = await codeOf(verifyReceiptSignature(receipt, expect_, onlyLedger));
      expect({ what, refused: code.startsWith("ERR_RECEIPT_INVALID"), reason: reason.test(code) }).toEqual({ what, refused: true, reason: true });
    }
  });

  it("refuses claims that are not a receipt's even under a valid signature", async () => {
    const ledgerKey = await generateSigningKey("ES256");
    expect(() => signReceipt({ net: "", idx: -1, hash: "x", jti: "", th: "y", iat: 0 }, signerOf(ledgerKey))).toThrow();
  });
});
