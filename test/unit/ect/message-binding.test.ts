import type { CryptoKey as JoseKey } from "jose";
import { flattenedVerify } from "jose";
import { describe, expect, it } from "vitest";
import {
  BINDING_TYP,
  b64url,
  bindingPayload,
  generateSigningKey,
  hasCode,
  messageBindingValid,
  readMessageBinding,
  signMessageBinding,
  type BindingSubject,
} from "../../../protocols/index.ts";

const subject: BindingSubject = {
  network: "default",
  jti: "0b6f3c44-5f55-4a7e-9a3c-1f6f0d3c2a11",
  messageId: "msg-1",
  target: "intake",
  data: new TextEncoder().encode("the wire bytes"),
};

describe("message binding", () => {
  for (const alg of ["ES256", "EdDSA"] as const) {
    it(`binds a token to exactly one message id, target, network and body (${alg})`, async () => {
      const key = await generateSigningKey(alg);
      const binding = signMessageBinding(subject, { kid: key.kid, alg, key: key.privateKey });
      const header = readMessageBinding(binding);
      expect(header).toMatchObject({ kid: key.kid, alg });
      const pub = key.publicJwk;
      const { importJWK } = await import("jose");
      const publicKey = await importJWK(pub, alg);
      expect(messageBindingValid(header, subject, publicKey as JoseKey)).toBe(true);
      for (const other of [
        { ...subject, messageId: "msg-2" },
        { ...subject, target: "other" },
        { ...subject, network: "elsewhere" },
        { ...subject, jti: "another-jti" },
        { ...subject, data: new TextEncoder().encode("the wire bytez") },
      ]) {
        expect(messageBindingValid(header, other, publicKey as JoseKey)).toBe(false);
      }
      // another key's binding over the same message does not verify with this key
      const stranger = await generateSigningKey(alg);
      const foreign = readMessageBinding(signMessageBinding(subject, { kid: key.kid, alg, key: stranger.privateKey }));
      expect(messageBindingValid(foreign, subject, publicKey as JoseKey)).toBe(false);
    });
  }

  it("is a standard detached-payload JWS (RFC 7515 Appendix F) that jose verifies", async () => {
    const key = await generateSigningKey("ES256");
    const binding = signMessageBinding(subject, { kid: key.kid, alg: "ES256", key: key.privateKey });
    const [protectedHeader, empty, signature] = binding.split(".") as [string, string, string];
    expect(empty).toBe("");
    const { importJWK } = await import("jose");
    const publicKey = await importJWK(key.publicJwk, "ES256");
    const verified = await flattenedVerify({ protected: protectedHeader, payload: b64url(bindingPayload(subject)), signature }, publicKey);
    expect(verified.protectedHeader).toEqual({ alg: "ES256", kid: key.kid, typ: BINDING_TYP });
    expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual({
      body: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      id: "msg-1",
      jti: subject.jti,
      net: "default",
      to: "intake",
    });
  });

  it("refuses what is not a binding with ERR_ECT_BINDING_INVALID, never another exception", () => {
    const header = (h: unknown) => Buffer.from(JSON.stringify(h)).toString("base64url");
    const bad = [
      "",
      "abc",
      "a.b.c",
      "a..",
      "..sig",
      `${header({ alg: "ES256", kid: "k", typ: BINDING_TYP })}.payload.sig`,
      `${header({ alg: "none", kid: "k", typ: BINDING_TYP })}..sig`,
      `${header({ alg: "HS256", kid: "k", typ: BINDING_TYP })}..sig`,
      `${header({ alg: "ES256", kid: "k", typ: "wimse-exec+jwt" })}..sig`,
      `${header({ alg: "ES256", typ: BINDING_TYP })}..sig`,
      `${header({ alg: "ES256", kid: "k", typ: BINDING_TYP, crit: ["x"] })}..sig`,
      `${header([1, 2])}..sig`,
      `%%%..sig`,
      `${"A".repeat(2000)}..sig`,
    ];
    for (const value of bad) {
      let error: unknown;
      try {
        readMessageBinding(value);
      } catch (e) {
        error = e;
      }
      expect({ value: value.slice(0, 40), ok: hasCode(error, "ERR_ECT_BINDING_INVALID") }).toEqual({ value: value.slice(0, 40), ok: true });
    }
  });

  it("rejects a signature with a second spelling or of the wrong length", async () => {
    const key = await generateSigningKey("ES256");
    const binding = signMessageBinding(subject, { kid: key.kid, alg: "ES256", key: key.privateKey });
    const { importJWK } = await import("jose");
    const publicKey = (await importJWK(key.publicJwk, "ES256")) as JoseKey;
    const header = readMessageBinding(binding);
    expect(messageBindingValid({ ...header, signature: `${header.signature}A` }, subject, publicKey)).toBe(false);
    expect(messageBindingValid({ ...header, signature: header.signature.slice(0, 20) }, subject, publicKey)).toBe(false);
    expect(messageBindingValid({ ...header, alg: "EdDSA" }, subject, publicKey)).toBe(false);
  });
});
