import { base64url, CompactSign, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeEctUnverified, generateSigningKey, JwksKeyResolver, verifyEct, type SigningKey } from "../../../protocols/index.ts";
import { at, NOW_S } from "./fixtures.ts";

/** The example payload of the reference implementation's README (ECT.md, "Fixtures"). */
const FIXTURE = {
  iss: "spiffe://example.com/agent/a",
  aud: ["spiffe://example.com/agent/b"],
  jti: "550e8400-e29b-41d4-a716-446655440000",
  exec_act: "review_spec",
  par: [],
  pol: "policy_v1",
  pol_decision: "approved",
};

let agentA: SigningKey;
let resolver: JwksKeyResolver;
beforeAll(async () => {
  agentA = await generateSigningKey("ES256", { kid: "agent-a-key" });
  resolver = new JwksKeyResolver({ keys: [agentA.publicJwk] });
});

describe("ECT interop", () => {
  it("verifies a -00 token built directly with jose SignJWT from the spec's fixture payload", async () => {
    const token = await new SignJWT(FIXTURE)
      .setProtectedHeader({ alg: "ES256", typ: "wimse-exec+jwt", kid: "agent-a-key" })
      .setIssuedAt(NOW_S)
      .setExpirationTime(NOW_S + 600)
      .sign(agentA.privateKey);
    const result = await verifyEct(token, { keys: resolver, now: at(NOW_S + 5), audience: "spiffe://example.com/agent/b" });
    expect(result.level).toBe("L2");
    expect(result.header).toMatchObject({ alg: "ES256", typ: "wimse-exec+jwt", kid: "agent-a-key" });
    expect(result.claims).toEqual({ ...FIXTURE, iat: NOW_S, exp: NOW_S + 600 });
  });

  it("verifies a -01 style token (typ exec+jwt, pred, ect_ext) and normalizes it to par and ext", async () => {
    const payload01 = { ...FIXTURE, par: undefined, pred: [], ect_ext: { "com.example.trace": { id: "t-1" } }, iat: NOW_S, exp: NOW_S + 600 };
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload01)))
      .setProtectedHeader({ alg: "ES256", typ: "exec+jwt", kid: "agent-a-key" })
      .sign(agentA.privateKey);
    const { claims, header } = await verifyEct(token, { keys: resolver, now: at(NOW_S + 5) });
    expect(header?.typ).toBe("exec+jwt");
    expect(claims.par).toEqual([]);
    expect(claims.ext).toEqual({ "com.example.trace": { id: "t-1" } });
    expect(claims).not.toHaveProperty("pred");
    expect(claims).not.toHaveProperty("ect_ext");
  });

  it("decodes the fixture token for inspection without verifying it", async () => {
    const token = await new SignJWT(FIXTURE).setProtectedHeader({ alg: "ES256", typ: "wimse-exec+jwt", kid: "agent-a-key" }).sign(agentA.privateKey);
    const decoded = decodeEctUnverified(token);
    expect(decoded.form).toBe("jws");
    expect(decoded.header).toEqual({ alg: "ES256", typ: "wimse-exec+jwt", kid: "agent-a-key" });
    expect(decoded.claims).toEqual(FIXTURE);
    expect(base64url.encode(JSON.stringify(FIXTURE))).toBe(token.split(".")[1]);
  });
});
