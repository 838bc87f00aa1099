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
  signReceipts,
  verifyReceiptSignature,
  VerifiedReceiptBatches,
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

    // a standard compact JWS over the batch (here of one), then the proof: jose verifies the JWS
    const [jws, proof] = receipt.split("~") as [string, string];
    const { protectedHeader, payload } = await compactVerify(jws, (await importJWK(ledgerKey.publicJwk, "ES256")) as JoseKey);
    expect(protectedHeader).toEqual({ alg: "ES256", kid: ledgerKey.kid, typ: RECEIPT_TYP });
    const batch = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    expect({ net: batch["net"], iat: batch["iat"], n: batch["n"] }).toEqual({ net: "default", iat: claims.iat, n: 1 });
    expect(JSON.parse(Buffer.from(proof, "base64url").toString())).toMatchObject({ idx: claims.idx, hash: claims.hash, jti: claims.jti, th: claims.th, i: 0, path: [] });

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

    const [jws, proof] = genuine.split("~") as [string, string];
    const [h, p, sig] = jws.split(".") as [string, string, string];
    const s = `${sig}~${proof}`;
    const batch = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const forgedPayload = Buffer.from(JSON.stringify({ ...batch, root: `${"B".repeat(42)}A` })).toString("base64url");
    const cases: [string, string, RegExp][] = [
      ["shape-only receipt", `999.${"A".repeat(43)}`, /not a compact JWS/],
      ["JWS without its proof", jws, /not a compact JWS/],
      ["proof with another index", `${jws}~${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(proof, "base64url").toString()), idx: 2 })).toString("base64url")}`, /proof does not lead/],
      ["proof with a made-up path", `${jws}~${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(proof, "base64url").toString()), path: [`${"C".repeat(42)}A`] })).toString("base64url")}`, /proof does not lead/],
      ["garbage proof", `${jws}~%%%`, /not a receipt proof/],
      ["empty", "", /missing/],
      ["signed by a node key", signReceipt(claims, signerOf(nodeKey)), /no audit ledger key/],
      ["tampered payload", `${h}.${forgedPayload}.${s}`, /signature does not verify/],
      ["signature cut", `${h}.${p}.${sig.slice(0, 10)}~${proof}`, /signature does not verify/],
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

  it("sign a batch once; each receipt proves its own token only, and a cached batch still needs the ledger key", async () => {
    const ledgerKey = await generateSigningKey("ES256");
    const nodeKey = await generateSigningKey("ES256");
    const tokens = await Promise.all(["a", "b", "c"].map((act) => tokenOf(nodeKey, act)));
    const jti = (t: string) => JSON.parse(Buffer.from(t.split(".")[1] as string, "base64url").toString()).jti as string;
    const claims = tokens.map((t, i) => ({ net: "default", idx: 10 + i, hash: `${String.fromCharCode(65 + i).repeat(42)}A`, jti: jti(t), th: receiptTokenHash(t), iat: 5 }));
    const receipts = signReceipts(claims, signerOf(ledgerKey));
    expect(new Set(receipts.map((r) => r.split("~")[0])).size).toBe(1); // one signature for the batch
    let known = true;
    const resolve = async (kid: string): Promise<ReceiptKey | undefined> =>
      known && kid === ledgerKey.kid ? { key: (await importJWK(ledgerKey.publicJwk, "ES256")) as JoseKey, alg: "ES256" } : undefined;
    const cache = new VerifiedReceiptBatches();
    for (const [i, token] of tokens.entries()) {
      expect(await verifyReceiptSignature(receipts[i] as string, { network: "default", jti: jti(token), token }, resolve, cache)).toEqual(claims[i]);
      // every other receipt of the same batch (genuine, same signature) is refused for this token
      for (const [j, other] of receipts.entries()) {
        if (j === i) continue;
        expect(await codeOf(verifyReceiptSignature(other, { network: "default", jti: jti(token), token }, resolve, cache))).toMatch(/another token/);
        // another receipt's proof claiming this token: the leaf does not lead to the root
        const [jws, proof] = other.split("~") as [string, string];
        const forged = { ...JSON.parse(Buffer.from(proof, "base64url").toString()), jti: jti(token), th: receiptTokenHash(token) };
        expect(await codeOf(verifyReceiptSignature(`${jws}~${Buffer.from(JSON.stringify(forged)).toString("base64url")}`, { network: "default", jti: jti(token), token }, resolve, cache))).toMatch(/proof does not lead/);
      }
    }
    // a forged JWS never enters the cache: tampering with the batch payload fails even after the genuine one was cached
    const [jws0, proof0] = (receipts[0] as string).split("~") as [string, string];
    const [h, , sig] = jws0.split(".") as [string, string, string];
    const forgedBatch = Buffer.from(JSON.stringify({ net: "default", iat: 5, root: `${"D".repeat(42)}A`, n: 1 })).toString("base64url");
    expect(await codeOf(verifyReceiptSignature(`${h}.${forgedBatch}.${sig}~${proof0}`, { network: "default", jti: jti(tokens[0] as string), token: tokens[0] as string }, resolve, cache))).toMatch(/signature does not verify/);
    // the ledger key gone (revoked): the cached batch is refused too
    known = false;
    expect(await codeOf(verifyReceiptSignature(receipts[0] as string, { network: "default", jti: jti(tokens[0] as string), token: tokens[0] as string }, resolve, cache))).toMatch(/no audit ledger key/);
    expect(() => signReceipts([claims[0] as (typeof claims)[number], { ...(claims[1] as (typeof claims)[number]), iat: 6 }], signerOf(ledgerKey))).toThrow();
    expect(signReceipts([], signerOf(ledgerKey))).toEqual([]);
  });

  it("refuses claims that are not a receipt's even under a valid signature", async () => {
    const ledgerKey = await generateSigningKey("ES256");
    expect(() => signReceipt({ net: "", idx: -1, hash: "x", jti: "", th: "y", iat: 0 }, signerOf(ledgerKey))).toThrow();
  });
});
