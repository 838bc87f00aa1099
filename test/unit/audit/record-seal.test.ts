import { describe, expect, it } from "vitest";
import { generateSigningKey, recordSealValid, sealRecord } from "../../../protocols/index.ts";

const keyOf = async () => {
  const key = await generateSigningKey("ES256");
  const { importJWK } = await import("jose");
  const pub = { key: await importJWK(key.publicJwk as unknown as Parameters<typeof importJWK>[0], "ES256"), alg: "ES256" };
  return { signer: { key: key.privateKey, kid: key.kid, alg: "ES256" as const }, resolve: async (kid: string) => (kid === key.kid ? pub : undefined) };
};

describe("record seals", () => {
  it("verify for the sealed hash under the ledger key only", async () => {
    const own = await keyOf();
    const other = await keyOf();
    const hash = "a".repeat(64);
    const seal = await sealRecord(hash, own.signer);
    expect(await recordSealValid(seal, hash, own.resolve)).toBe(true);
    expect(await recordSealValid(seal, "b".repeat(64), own.resolve)).toBe(false);
    expect(await recordSealValid(seal, hash, other.resolve)).toBe(false);
    expect(await recordSealValid(await sealRecord(hash, other.signer), hash, own.resolve)).toBe(false);
  });

  it("refuse a missing, empty, oversized or malformed seal", async () => {
    const own = await keyOf();
    for (const bad of [undefined, "", "x".repeat(5_000), "not.a.jws", "....."]) expect(await recordSealValid(bad, "a".repeat(64), own.resolve)).toBe(false);
  });
});
