import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import {
  exportPrivateJwk,
  generateSigningKey,
  importPrivateJwk,
  JwksKeyResolver,
  mintEct,
  verifyEct,
} from "../../../protocols/index.ts";
import { at, expectEctError, NOW_S, rootClaims, signerOf } from "./fixtures.ts";

describe("generateSigningKey", () => {
  it("makes an ES256 key whose kid is the RFC 7638 thumbprint", async () => {
    const key = await generateSigningKey();
    expect(key.alg).toBe("ES256");
    expect(key.publicJwk).toMatchObject({ kty: "EC", crv: "P-256", kid: key.kid, alg: "ES256", use: "sig" });
    expect(key.publicJwk).not.toHaveProperty("d");
    const { kty, crv, x } = key.publicJwk;
    expect(key.kid).toBe(await calculateJwkThumbprint({ kty, crv, x, y: (key.publicJwk as { y: string }).y }));
  });

  it("makes an EdDSA key on Ed25519 and takes a chosen kid", async () => {
    const key = await generateSigningKey("EdDSA", { kid: "agent-b-key" });
    expect(key.kid).toBe("agent-b-key");
    expect(key.publicJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: "agent-b-key", alg: "EdDSA" });
  });
});

describe("exportPrivateJwk / importPrivateJwk", () => {
  it("round-trips both key types through JSON so tokens still verify", async () => {
    for (const alg of ["ES256", "EdDSA"] as const) {
      const original = await generateSigningKey(alg);
      const saved = JSON.parse(JSON.stringify(await exportPrivateJwk(original))) as unknown;
      const loaded = await importPrivateJwk(saved);
      expect(loaded.kid).toBe(original.kid);
      expect(loaded.publicJwk).toEqual(original.publicJwk);
      const token = await mintEct(rootClaims(), signerOf(loaded));
      const resolver = new JwksKeyResolver({ keys: [original.publicJwk] });
      await expect(verifyEct(token, { keys: resolver, now: at(NOW_S) })).resolves.toMatchObject({ level: "L2" });
    }
  });

  it("refuses a JWK whose public members do not belong to d with ERR_CONFIG_INVALID", async () => {
    const a = await exportPrivateJwk(await generateSigningKey("ES256"));
    const b = await exportPrivateJwk(await generateSigningKey("ES256"));
    await expectEctError(importPrivateJwk({ ...a, x: b.x, y: b.y }), "ERR_CONFIG_INVALID");
  });

  it("refuses anything that is not an EC P-256 or Ed25519 private JWK with ERR_CONFIG_INVALID", async () => {
    const pub = (await generateSigningKey()).publicJwk;
    for (const bad of [null, "key", pub, { kty: "RSA", n: "x", e: "AQAB", d: "x" }, { kty: "oct", k: "c2VjcmV0" }]) {
      await expectEctError(importPrivateJwk(bad), "ERR_CONFIG_INVALID");
    }
  });
});

describe("JwksKeyResolver", () => {
  it("takes EC P-256 and Ed25519 keys with a kid and ignores every other entry", async () => {
    const es = await generateSigningKey("ES256");
    const ed = await generateSigningKey("EdDSA");
    const resolver = new JwksKeyResolver({
      keys: [
        es.publicJwk,
        ed.publicJwk,
        { ...es.publicJwk, kid: undefined },
        { ...es.publicJwk, kid: "p384", crv: "P-384" },
        { ...es.publicJwk, kid: "enc", use: "enc" },
        { ...es.publicJwk, kid: "wrong-alg", alg: "EdDSA" },
        { ...es.publicJwk, kid: "off-curve", y: es.publicJwk.x },
        { kty: "RSA", kid: "rsa", n: "AQAB", e: "AQAB" },
        { kty: "oct", kid: "hmac", k: "c2VjcmV0" },
        "junk",
        null,
      ],
    });
    expect(resolver.toJwks().keys.map((k) => k.kid)).toEqual([es.kid, ed.kid]);
    expect(await resolver.resolve(es.kid)).toMatchObject({ alg: "ES256" });
    expect(await resolver.resolve(ed.kid)).toMatchObject({ alg: "EdDSA" });
    expect(await resolver.resolve("rsa")).toBeUndefined();
  });

  it("keeps only the public members of a private JWK added by mistake", async () => {
    const key = await generateSigningKey();
    const resolver = new JwksKeyResolver();
    expect(resolver.add(await exportPrivateJwk(key))).toBe(true);
    expect(resolver.toJwks().keys[0]).not.toHaveProperty("d");
  });

  it("keeps a revoked kid revoked even when the key is added again", async () => {
    const key = await generateSigningKey();
    const resolver = new JwksKeyResolver({ keys: [key.publicJwk] });
    resolver.revoke(key.kid);
    resolver.add(key.publicJwk);
    expect(resolver.isRevoked(key.kid)).toBe(true);
    expect(await resolver.resolve(key.kid)).toBeUndefined();
    expect(resolver.toJwks().keys).toEqual([]);
  });

  it("refuses a container without a keys array with ERR_CONFIG_INVALID", () => {
    expect(() => new JwksKeyResolver({} as { keys: unknown[] })).toThrow(expect.objectContaining({ code: "ERR_CONFIG_INVALID" }));
  });
});
