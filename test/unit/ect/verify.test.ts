import { base64url, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  generateSigningKey,
  JwksKeyResolver,
  MemoryEctStore,
  MemoryReplayCache,
  mintEct,
  mintUnsignedEct,
  sha256B64url,
  verifyEct,
  type KeyResolver,
} from "../../../protocols/index.ts";
import {
  b64json,
  clock,
  expectEctError,
  ISSUER,
  makeKeys,
  NOW_MS,
  NOW_S,
  rootClaims,
  signClaims,
  signerOf,
  signRaw,
  VERIFIER,
  WORKFLOW,
  type TestKeys,
} from "./fixtures.ts";

let keys: TestKeys;
beforeAll(async () => {
  keys = await makeKeys();
});

const options = (extra: Record<string, unknown> = {}) => ({ keys: keys.resolver, now: clock, ...extra });

describe("verifyEct", () => {
  describe("happy paths", () => {
    it("accepts an ES256 token minted by mintEct and returns the header, claims and level L2", async () => {
      const input = rootClaims({ wid: WORKFLOW, inp_hash: sha256B64url("input"), ext: { "dev.tether.node": "n1" } });
      const token = await mintEct(input, { ...signerOf(keys.es), now: clock });
      const result = await verifyEct(token, options({ audience: VERIFIER, store: new MemoryEctStore(), replayCache: new MemoryReplayCache({ now: clock }) }));
      expect(result.level).toBe("L2");
      expect(result.header).toMatchObject({ alg: "ES256", typ: "wimse-exec+jwt", kid: keys.es.kid });
      expect(result.claims).toMatchObject({ iss: ISSUER, jti: input.jti, par: [], wid: WORKFLOW, ext: { "dev.tether.node": "n1" } });
      expect(result.missingParents).toEqual([]);
    });

    it("accepts an EdDSA (Ed25519) token", async () => {
      const token = await mintEct(rootClaims(), { ...signerOf(keys.ed), now: clock });
      const result = await verifyEct(token, options());
      expect(result.level).toBe("L2");
      expect(result.header?.alg).toBe("EdDSA");
    });

    it("fills iat, exp (iat + 600) and jti when the caller leaves them out", async () => {
      const { iat: _iat, exp: _exp, jti: _jti, ...rest } = rootClaims();
      const token = await mintEct(rest, { ...signerOf(keys.es), now: clock });
      const { claims } = await verifyEct(token, options());
      expect(claims.iat).toBe(NOW_S);
      expect(claims.exp).toBe(NOW_S + 600);
      expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("keeps unknown claims such as pol and pol_decision", async () => {
      const token = await mintEct(rootClaims({ pol: "policy_v1", pol_decision: "approved" }), { ...signerOf(keys.es), now: clock });
      const { claims } = await verifyEct(token, options());
      expect(claims["pol"]).toBe("policy_v1");
      expect(claims["pol_decision"]).toBe("approved");
    });

    it("accepts typ in any case and with the application/ prefix", async () => {
      for (const typ of ["application/wimse-exec+jwt", "WIMSE-EXEC+JWT", "Application/Exec+JWT"]) {
        const token = await signClaims(keys, rootClaims(), { typ });
        await expect(verifyEct(token, options())).resolves.toMatchObject({ level: "L2" });
      }
    });

    it("accepts a token whose exp passed less than the skew ago", async () => {
      const token = await mintEct(rootClaims({ iat: NOW_S - 620, exp: NOW_S - 20 }), signerOf(keys.es));
      await expect(verifyEct(token, options())).resolves.toMatchObject({ level: "L2" });
    });

    it("hands an L1 token to the unsigned path when acceptUnsigned is set", async () => {
      const token = mintUnsignedEct(rootClaims());
      const result = await verifyEct(token, options({ acceptUnsigned: true }));
      expect(result.level).toBe("L1");
      expect(result.header).toBeUndefined();
    });
  });

  describe("step 1: header and signature", () => {
    it("rejects a string that is not a compact JWS with ERR_ECT_MALFORMED", async () => {
      for (const bad of ["abc.def", "a.b.c.d", "..", `${b64json({ alg: "ES256" })}..sig`, "!!!.###.$$$", `${base64url.encode("not json")}.e30.AA`]) {
        await expectEctError(verifyEct(bad, options()), "ERR_ECT_MALFORMED");
      }
    });

    it("rejects non-string, empty and oversized input with ERR_ECT_MALFORMED", async () => {
      for (const bad of [42, null, undefined, {}, ["a"], new Uint8Array(3), "", "a".repeat(70_000)]) {
        await expectEctError(verifyEct(bad, options()), "ERR_ECT_MALFORMED");
      }
    });

    it("rejects an unsigned L1 token with ERR_ECT_MALFORMED unless acceptUnsigned is set", async () => {
      const error = await expectEctError(verifyEct(mintUnsignedEct(rootClaims()), options()), "ERR_ECT_MALFORMED");
      expect(error.details["reason"]).toBe("unsigned token");
    });

    it("rejects a header with crit as ERR_ECT_MALFORMED", async () => {
      // jose will not sign an unknown critical parameter, and the check comes before the signature anyway.
      const signature = (await mintEct(rootClaims(), signerOf(keys.es))).split(".")[2];
      const header = { alg: "ES256", typ: "wimse-exec+jwt", kid: keys.es.kid, crit: ["dev.tether.x"], "dev.tether.x": 1 };
      const token = `${b64json(header)}.${b64json(rootClaims())}.${signature}`;
      await expectEctError(verifyEct(token, options()), "ERR_ECT_MALFORMED");
    });

    it("rejects alg none with ERR_ECT_ALG_NOT_ALLOWED, even when none is asked for", async () => {
      const token = `${b64json({ alg: "none", typ: "wimse-exec+jwt", kid: keys.es.kid })}.${b64json(rootClaims())}.`;
      await expectEctError(verifyEct(token, options()), "ERR_ECT_ALG_NOT_ALLOWED");
      await expectEctError(verifyEct(token, options({ algorithms: ["none"] })), "ERR_CONFIG_INVALID");
    });

    it("rejects an HMAC token (HS256) with ERR_ECT_ALG_NOT_ALLOWED", async () => {
      const token = await new SignJWT(rootClaims())
        .setProtectedHeader({ alg: "HS256", typ: "wimse-exec+jwt", kid: keys.es.kid })
        .sign(new Uint8Array(32).fill(7));
      await expectEctError(verifyEct(token, options()), "ERR_ECT_ALG_NOT_ALLOWED");
    });

    it("rejects EdDSA with ERR_ECT_ALG_NOT_ALLOWED when the allow-list has only ES256", async () => {
      const token = await mintEct(rootClaims(), { ...signerOf(keys.ed), now: clock });
      await expectEctError(verifyEct(token, options({ algorithms: ["ES256"] })), "ERR_ECT_ALG_NOT_ALLOWED");
    });

    it("rejects a wrong typ with ERR_ECT_TYP_INVALID", async () => {
      await expectEctError(verifyEct(await signClaims(keys, rootClaims(), { typ: "JWT" }), options()), "ERR_ECT_TYP_INVALID");
      await expectEctError(verifyEct(await signClaims(keys, rootClaims(), { typ: undefined }), options()), "ERR_ECT_TYP_INVALID");
    });

    it("rejects a header without kid with ERR_ECT_KID_MISSING", async () => {
      const token = await signClaims(keys, rootClaims(), { kid: undefined });
      await expectEctError(verifyEct(token, options()), "ERR_ECT_KID_MISSING");
    });

    it("rejects a kid no trusted key has with ERR_ECT_KID_UNKNOWN", async () => {
      const token = await signClaims(keys, rootClaims(), { kid: "nobody" });
      const error = await expectEctError(verifyEct(token, options()), "ERR_ECT_KID_UNKNOWN");
      expect(error.details["kid"]).toBe("nobody");
    });

    it("rejects a revoked key with ERR_ECT_KEY_REVOKED", async () => {
      const resolver = new JwksKeyResolver({ keys: [keys.es.publicJwk] });
      resolver.revoke(keys.es.kid);
      const token = await mintEct(rootClaims(), signerOf(keys.es));
      await expectEctError(verifyEct(token, options({ keys: resolver })), "ERR_ECT_KEY_REVOKED");
    });

    it("rejects a token signed by another key under a trusted kid with ERR_ECT_SIGNATURE_INVALID", async () => {
      const impostor = await generateSigningKey("ES256");
      const token = await mintEct(rootClaims(), { key: impostor.privateKey, kid: keys.es.kid, alg: "ES256" });
      const error = await expectEctError(verifyEct(token, options()), "ERR_ECT_SIGNATURE_INVALID");
      expect(error.details["reason"]).toBe("signature mismatch");
    });

    it("rejects a tampered payload with ERR_ECT_SIGNATURE_INVALID", async () => {
      const [h, , s] = (await mintEct(rootClaims(), signerOf(keys.es))).split(".");
      const token = `${h}.${b64json(rootClaims({ exec_act: "approve_release" }))}.${s}`;
      await expectEctError(verifyEct(token, options()), "ERR_ECT_SIGNATURE_INVALID");
    });

    it("checks the signature the same way on the thread pool (offloadSignature): genuine passes, impostor and tampered fail", async () => {
      const offloaded = (extra: Record<string, unknown> = {}) => options({ offloadSignature: true, ...extra });
      const genuine = await mintEct(rootClaims(), signerOf(keys.es));
      expect((await verifyEct(genuine, offloaded())).claims.exec_act).toBe(rootClaims().exec_act);
      const eddsa = await mintEct(rootClaims(), signerOf(keys.ed));
      expect((await verifyEct(eddsa, offloaded())).level).toBe("L2");
      const impostor = await generateSigningKey("ES256");
      await expectEctError(verifyEct(await mintEct(rootClaims(), { key: impostor.privateKey, kid: keys.es.kid, alg: "ES256" }), offloaded()), "ERR_ECT_SIGNATURE_INVALID");
      const [h, , sig] = genuine.split(".");
      await expectEctError(verifyEct(`${h}.${b64json(rootClaims({ exec_act: "approve_release" }))}.${sig}`, offloaded()), "ERR_ECT_SIGNATURE_INVALID");
      await expectEctError(verifyEct(`${h}.${genuine.split(".")[1]}.${sig}x`, offloaded()), "ERR_ECT_SIGNATURE_INVALID");
    });

    it("does not let a key of one alg verify a token claiming another alg", async () => {
      // The kid names an Ed25519 key; the token says ES256 and is signed with an ES256 key.
      const token = await signRaw(rootClaims(), { alg: "ES256", typ: "wimse-exec+jwt", kid: keys.ed.kid }, keys.es.privateKey);
      const error = await expectEctError(verifyEct(token, options()), "ERR_ECT_SIGNATURE_INVALID");
      expect(error.details["reason"]).toBe("algorithm mismatch");
      // A resolver lying about the alg of its key still cannot make jose use the key for the other alg.
      const lying: KeyResolver = { resolve: async () => ({ key: (await keys.resolver.resolve(keys.ed.kid))!.key, alg: "ES256" }) };
      await expectEctError(verifyEct(token, options({ keys: lying })), "ERR_ECT_SIGNATURE_INVALID");
    });

    it("turns a resolver that throws a plain Error into ERR_ECT_KID_UNKNOWN", async () => {
      const broken: KeyResolver = { resolve: () => Promise.reject(new Error("registry down")) };
      const error = await expectEctError(verifyEct(await mintEct(rootClaims(), signerOf(keys.es)), options({ keys: broken })), "ERR_ECT_KID_UNKNOWN");
      expect(error.cause).toBeInstanceOf(Error);
    });
  });

  describe("step 2: claims and times", () => {
    it("rejects a missing claim with ERR_ECT_CLAIM_INVALID naming the claim", async () => {
      const { exec_act: _drop, ...payload } = rootClaims();
      const error = await expectEctError(verifyEct(await signClaims(keys, payload), options()), "ERR_ECT_CLAIM_INVALID");
      expect(error.message).toContain("exec_act");
      expect(error.details["claim"]).toBe("exec_act");
    });

    it("rejects ill-typed claims with ERR_ECT_CLAIM_INVALID", async () => {
      const cases: Array<[string, Record<string, unknown>]> = [
        ["jti", { jti: "not-a-uuid" }],
        ["iss", { iss: "agent a" }],
        ["aud", { aud: [] }],
        ["iat", { iat: NOW_S + 0.5 }],
        ["exp", { exp: NOW_S }],
        ["exec_act", { exec_act: "x".repeat(257) }],
        ["wid", { wid: "workflow-1" }],
        ["inp_hash", { inp_hash: `sha-256:${sha256B64url("x")}` }],
        ["out_hash", { out_hash: "abc" }],
        ["par", { par: "root" }],
        ["par", { par: ["p", "p"] }],
        ["ext.tether", { ext: { tether: 1 } }],
        ["ect_ext", { ext: {}, ect_ext: {} }],
      ];
      for (const [claim, patch] of cases) {
        const error = await expectEctError(verifyEct(await signClaims(keys, rootClaims(patch)), options()), "ERR_ECT_CLAIM_INVALID");
        expect(String(error.details["claim"]), JSON.stringify(patch)).toContain(claim.split(".")[0]);
      }
    });

    it("rejects a token carrying both par and pred with ERR_ECT_CLAIM_INVALID", async () => {
      const error = await expectEctError(verifyEct(await signClaims(keys, rootClaims({ pred: [] })), options()), "ERR_ECT_CLAIM_INVALID");
      expect(error.details["claim"]).toBe("pred");
    });

    it("rejects more than 100 parents with ERR_ECT_TOO_MANY_PARENTS", async () => {
      const par = Array.from({ length: 101 }, () => crypto.randomUUID());
      const error = await expectEctError(verifyEct(await signClaims(keys, rootClaims({ par })), options()), "ERR_ECT_TOO_MANY_PARENTS");
      expect(error.details).toMatchObject({ claim: "par", limit: 100, actual: 101 });
    });

    it("rejects an ext over 4096 bytes with ERR_ECT_EXT_TOO_LARGE", async () => {
      const ext = { "dev.tether.blob": "x".repeat(4096) };
      const error = await expectEctError(verifyEct(await signClaims(keys, rootClaims({ ext })), options()), "ERR_ECT_EXT_TOO_LARGE");
      expect(error.details).toMatchObject({ claim: "ext", limit: 4096 });
    });

    it("rejects an ext nested deeper than 5 levels with ERR_ECT_EXT_TOO_DEEP", async () => {
      const ok = { "dev.tether.a": { b: { c: { d: 1 } } } }; // 4 levels
      const five = { "dev.tether.a": { b: { c: { d: [1] } } } }; // 5 levels
      const six = { "dev.tether.a": { b: { c: { d: { e: [1] } } } } }; // 6 levels
      await expect(verifyEct(await signClaims(keys, rootClaims({ ext: ok })), options())).resolves.toBeDefined();
      await expect(verifyEct(await signClaims(keys, rootClaims({ ext: five })), options())).resolves.toBeDefined();
      await expectEctError(verifyEct(await signClaims(keys, rootClaims({ ext: six })), options()), "ERR_ECT_EXT_TOO_DEEP");
    });

    it("rejects a token not addressed to the verifier with ERR_ECT_AUDIENCE_MISMATCH", async () => {
      const token = await mintEct(rootClaims({ aud: "spiffe://example.com/agent/c" }), signerOf(keys.es));
      await expectEctError(verifyEct(token, options({ audience: VERIFIER })), "ERR_ECT_AUDIENCE_MISMATCH");
    });

    it("rejects an expired token with ERR_ECT_EXPIRED", async () => {
      const token = await mintEct(rootClaims({ iat: NOW_S - 700, exp: NOW_S - 30 }), signerOf(keys.es));
      await expectEctError(verifyEct(token, options()), "ERR_ECT_EXPIRED");
    });

    it("rejects an iat older than the maximum age with ERR_ECT_IAT_TOO_OLD", async () => {
      const token = await mintEct(rootClaims({ iat: NOW_S - 901, exp: NOW_S + 3600 }), signerOf(keys.es));
      await expectEctError(verifyEct(token, options()), "ERR_ECT_IAT_TOO_OLD");
      await expect(verifyEct(token, options({ maxAgeSeconds: 1000 }))).resolves.toBeDefined();
    });

    it("rejects an iat in the future beyond the skew with ERR_ECT_IAT_IN_FUTURE", async () => {
      const future = await mintEct(rootClaims({ iat: NOW_S + 31, exp: NOW_S + 631 }), signerOf(keys.es));
      await expectEctError(verifyEct(future, options()), "ERR_ECT_IAT_IN_FUTURE");
      const withinSkew = await mintEct(rootClaims({ iat: NOW_S + 30, exp: NOW_S + 630 }), signerOf(keys.es));
      await expect(verifyEct(withinSkew, options())).resolves.toBeDefined();
    });

    it("refuses options out of range with ERR_CONFIG_INVALID", async () => {
      const token = await mintEct(rootClaims(), signerOf(keys.es));
      await expectEctError(verifyEct(token, options({ clockSkewSeconds: -1 })), "ERR_CONFIG_INVALID");
      await expectEctError(verifyEct(token, options({ now: () => Number.NaN })), "ERR_CONFIG_INVALID");
    });
  });

  describe("step 3: replay", () => {
    it("rejects a replayed jti within the same workflow", async () => {
      const replayCache = new MemoryReplayCache({ now: clock });
      const token = await mintEct(rootClaims({ wid: WORKFLOW }), signerOf(keys.es));
      await verifyEct(token, options({ replayCache }));
      const error = await expectEctError(verifyEct(token, options({ replayCache })), "ERR_ECT_REPLAYED");
      expect(error.details["scope"]).toBe(WORKFLOW);
    });

    it("accepts the same jti in another workflow (the scope is wid)", async () => {
      const replayCache = new MemoryReplayCache({ now: clock });
      const jti = crypto.randomUUID();
      await verifyEct(await mintEct(rootClaims({ jti, wid: WORKFLOW }), signerOf(keys.es)), options({ replayCache }));
      const other = await mintEct(rootClaims({ jti, wid: crypto.randomUUID() }), signerOf(keys.es));
      await expect(verifyEct(other, options({ replayCache }))).resolves.toBeDefined();
    });

    it("rejects a replayed jti without wid in the global scope", async () => {
      const replayCache = new MemoryReplayCache({ now: clock });
      const jti = crypto.randomUUID();
      await verifyEct(await mintEct(rootClaims({ jti }), signerOf(keys.es)), options({ replayCache }));
      const again = await mintEct(rootClaims({ jti, exec_act: "other" }), signerOf(keys.ed));
      await expectEctError(verifyEct(again, options({ replayCache })), "ERR_ECT_REPLAYED");
    });
  });

  describe("steps 4-6: parents", () => {
    it("rejects a parent missing from the store with ERR_ECT_PARENT_MISSING", async () => {
      const missing = crypto.randomUUID();
      const token = await mintEct(rootClaims({ par: [missing] }), signerOf(keys.es));
      const error = await expectEctError(verifyEct(token, options({ store: new MemoryEctStore() })), "ERR_ECT_PARENT_MISSING");
      expect(error.details["missing"]).toEqual([missing]);
      await expectEctError(verifyEct(token, options()), "ERR_ECT_PARENT_MISSING");
    });

    it("reports missing parents instead of rejecting when allowMissingParents is set", async () => {
      const missing = crypto.randomUUID();
      const token = await mintEct(rootClaims({ par: [missing] }), signerOf(keys.es));
      const result = await verifyEct(token, options({ store: new MemoryEctStore(), allowMissingParents: true }));
      expect(result.missingParents).toEqual([missing]);
    });

    it("rejects a parent issued after the child beyond the skew with ERR_ECT_PARENT_NEWER", async () => {
      const store = new MemoryEctStore();
      const parent = crypto.randomUUID();
      store.put({ jti: parent, iat: NOW_S + 31, par: [] });
      const token = await mintEct(rootClaims({ par: [parent] }), signerOf(keys.es));
      await expectEctError(verifyEct(token, options({ store })), "ERR_ECT_PARENT_NEWER");
      store.put({ jti: parent, iat: NOW_S + 30, par: [] });
      await expect(verifyEct(token, options({ store }))).resolves.toBeDefined();
    });

    it("rejects a token that lists itself as parent with ERR_ECT_CYCLE", async () => {
      const jti = crypto.randomUUID();
      const token = await mintEct(rootClaims({ jti, par: [jti] }), signerOf(keys.es));
      await expectEctError(verifyEct(token, options({ store: new MemoryEctStore() })), "ERR_ECT_CYCLE");
    });

    it("rejects a token reachable from its own parents with ERR_ECT_CYCLE", async () => {
      const store = new MemoryEctStore();
      const [child, a, b] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
      store.put({ jti: a, iat: NOW_S - 20, par: [b] });
      store.put({ jti: b, iat: NOW_S - 10, par: [child] }); // stored earlier under relaxed rules
      const token = await mintEct(rootClaims({ jti: child, par: [a] }), signerOf(keys.es));
      const error = await expectEctError(verifyEct(token, options({ store })), "ERR_ECT_CYCLE");
      expect(error.details["reason"]).toBe("child reachable from its parents");
    });

    it("rejects an ancestor that lists itself as parent with ERR_ECT_CYCLE", async () => {
      const store = new MemoryEctStore();
      const a = crypto.randomUUID();
      store.put({ jti: a, iat: NOW_S - 20, par: [a] });
      const token = await mintEct(rootClaims({ par: [a] }), signerOf(keys.es));
      const error = await expectEctError(verifyEct(token, options({ store })), "ERR_ECT_CYCLE");
      expect(error.details["reason"]).toBe("self parent");
    });
  });

  describe("order of the checks", () => {
    it("checks typ before the signature and the signature before the claims", async () => {
      const impostor = await generateSigningKey("ES256");
      const badTypAndSig = await signRaw(rootClaims(), { alg: "ES256", typ: "JWT", kid: keys.es.kid }, impostor.privateKey);
      await expectEctError(verifyEct(badTypAndSig, options()), "ERR_ECT_TYP_INVALID");
      const badSigAndClaims = await signRaw({ nonsense: true }, { alg: "ES256", typ: "wimse-exec+jwt", kid: keys.es.kid }, impostor.privateKey);
      await expectEctError(verifyEct(badSigAndClaims, options()), "ERR_ECT_SIGNATURE_INVALID");
    });

    it("checks the audience before exp, and exp before replay and parents", async () => {
      const replayCache = new MemoryReplayCache({ now: clock });
      const expired = await mintEct(rootClaims({ iat: NOW_S - 700, exp: NOW_S - 60, par: [crypto.randomUUID()], aud: "x" }), signerOf(keys.es));
      await expectEctError(verifyEct(expired, options({ audience: VERIFIER, replayCache })), "ERR_ECT_AUDIENCE_MISMATCH");
      await expectEctError(verifyEct(expired, options({ replayCache })), "ERR_ECT_EXPIRED");
      expect(replayCache.size).toBe(0);
    });

    it("uses the injected clock, not the system time", async () => {
      const token = await mintEct(rootClaims(), signerOf(keys.es));
      await expectEctError(verifyEct(token, { keys: keys.resolver, now: () => NOW_MS + 11 * 60_000 }), "ERR_ECT_EXPIRED");
    });
  });
});
