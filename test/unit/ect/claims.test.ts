import { describe, expect, it } from "vitest";
import { EctWireClaims, generateSigningKey, mintEct, mintUnsignedEct, sha256B64url, TETHER_EXT_PREFIX } from "../../../protocols/index.ts";
import { at, expectEctError, NOW_S, rootClaims, signerOf } from "./fixtures.ts";

describe("EctWireClaims", () => {
  it("normalizes the -01 names pred and ect_ext to par and ext", () => {
    const { par: _par, ...rest } = rootClaims();
    const parsed = EctWireClaims.parse({ ...rest, pred: ["a"], ect_ext: { "com.example.x": 1 } });
    expect(parsed.par).toEqual(["a"]);
    expect(parsed.ext).toEqual({ "com.example.x": 1 });
    expect(parsed).not.toHaveProperty("pred");
  });

  it("requires par (or pred): [] marks a root", () => {
    const { par: _par, ...rest } = rootClaims();
    expect(EctWireClaims.safeParse(rest).success).toBe(false);
  });

  it("keeps unknown claims and accepts a single string aud", () => {
    const parsed = EctWireClaims.parse(rootClaims({ aud: "spiffe://x/y", sub: "someone", nested: { a: 1 } }));
    expect(parsed).toMatchObject({ aud: "spiffe://x/y", sub: "someone", nested: { a: 1 } });
  });

  it("drops a __proto__ claim instead of letting it change the object's prototype", () => {
    const payload = JSON.parse(`{"__proto__":{"wid":"0f6b3b0e-7c1a-4d2e-9a51-2b8c9d0e1f23"},${JSON.stringify(rootClaims()).slice(1)}`) as unknown;
    const parsed = EctWireClaims.parse(payload);
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(parsed.wid).toBeUndefined();
  });
});

describe("sha256B64url", () => {
  it("gives the plain 43-character base64url SHA-256 of bytes and of UTF-8 text", () => {
    expect(sha256B64url("")).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    expect(sha256B64url(new TextEncoder().encode("abc"))).toBe(sha256B64url("abc"));
    expect(sha256B64url("abc")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("mintEct", () => {
  it("refuses claims a verifier would refuse, with the verifier's codes", async () => {
    const key = await generateSigningKey();
    const signer = { ...signerOf(key), now: at(NOW_S) };
    await expectEctError(mintEct(rootClaims({ exec_act: "" }), signer), "ERR_ECT_CLAIM_INVALID");
    await expectEctError(mintEct(rootClaims({ par: Array.from({ length: 101 }, (_, i) => `p${i}`) }), signer), "ERR_ECT_TOO_MANY_PARENTS");
    await expectEctError(mintEct(rootClaims({ ext: { [`${TETHER_EXT_PREFIX}blob`]: "x".repeat(5000) } }), signer), "ERR_ECT_EXT_TOO_LARGE");
    await expectEctError(mintEct(rootClaims({ ext: { "dev.tether.a": { b: { c: { d: { e: {} } } } } } }), signer), "ERR_ECT_EXT_TOO_DEEP");
    await expectEctError(mintEct(rootClaims({ ext: { "dev.tether.n": Number.NaN } }), signer), "ERR_ECT_CLAIM_INVALID");
    await expectEctError(mintEct(rootClaims({ big: 10n }), signer), "ERR_ECT_CLAIM_INVALID");
  });

  it("stops at a cyclic ext object with ERR_ECT_EXT_TOO_DEEP instead of looping", async () => {
    const key = await generateSigningKey();
    const loop: Record<string, unknown> = {};
    loop["self"] = loop;
    await expectEctError(mintEct(rootClaims({ ext: { "dev.tether.loop": loop } }), signerOf(key)), "ERR_ECT_EXT_TOO_DEEP");
  });

  it("refuses the -01 names, since Tether emits -00", async () => {
    const key = await generateSigningKey();
    const error = await expectEctError(mintEct({ ...rootClaims(), pred: [] } as never, signerOf(key)), "ERR_ECT_CLAIM_INVALID");
    expect(error.details["claim"]).toBe("pred");
  });

  it("refuses a missing kid, a foreign alg and a key that does not fit alg", async () => {
    const es = await generateSigningKey("ES256");
    await expectEctError(mintEct(rootClaims(), { key: es.privateKey, kid: "" }), "ERR_ECT_KID_MISSING");
    await expectEctError(mintEct(rootClaims(), { key: es.privateKey, kid: "k", alg: "HS256" as never }), "ERR_ECT_ALG_NOT_ALLOWED");
    await expectEctError(mintEct(rootClaims(), { key: es.privateKey, kid: "k", typ: "JWT" as never }), "ERR_ECT_TYP_INVALID");
    await expectEctError(mintEct(rootClaims(), { key: es.privateKey, kid: "k", alg: "EdDSA" }), "ERR_CONFIG_INVALID");
  });

  it("uses ttlSeconds and the injected jti source", async () => {
    const { iat: _i, exp: _e, jti: _j, ...rest } = rootClaims();
    const token = mintUnsignedEct(rest, { now: at(NOW_S), ttlSeconds: 60, newJti: () => "550e8400-e29b-41d4-a716-446655440000" });
    const claims = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Record<string, unknown>;
    expect(claims).toMatchObject({ iat: NOW_S, exp: NOW_S + 60, jti: "550e8400-e29b-41d4-a716-446655440000" });
    expect(() => mintUnsignedEct(rest, { ttlSeconds: 0 })).toThrow(expect.objectContaining({ code: "ERR_CONFIG_INVALID" }));
  });
});
