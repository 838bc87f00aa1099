import { describe, expect, it } from "vitest";
import {
  decodeEctUnverified,
  MemoryEctStore,
  MemoryReplayCache,
  mintUnsignedEct,
  verifyUnsignedEct,
} from "../../../protocols/index.ts";
import { b64json, clock, expectEctError, NOW_S, rootClaims, WORKFLOW } from "./fixtures.ts";

describe("verifyUnsignedEct", () => {
  it("verifies an L1 token: one base64url segment of JSON claims, level L1, no header", async () => {
    const token = mintUnsignedEct(rootClaims({ wid: WORKFLOW }));
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    const result = await verifyUnsignedEct(token, { now: clock });
    expect(result).toMatchObject({ level: "L1", header: undefined, missingParents: [] });
    expect(result.claims.wid).toBe(WORKFLOW);
  });

  it("rejects a replayed jti within the same workflow", async () => {
    const replayCache = new MemoryReplayCache({ now: clock });
    const token = mintUnsignedEct(rootClaims({ wid: WORKFLOW }));
    await verifyUnsignedEct(token, { now: clock, replayCache });
    await expectEctError(verifyUnsignedEct(token, { now: clock, replayCache }), "ERR_ECT_REPLAYED");
  });

  it("applies the claim, time and parent checks", async () => {
    await expectEctError(verifyUnsignedEct(b64json({ ...rootClaims(), iss: 3 }), { now: clock }), "ERR_ECT_CLAIM_INVALID");
    await expectEctError(verifyUnsignedEct(mintUnsignedEct(rootClaims({ iat: NOW_S - 700, exp: NOW_S - 60 })), { now: clock }), "ERR_ECT_EXPIRED");
    const orphan = mintUnsignedEct(rootClaims({ par: [crypto.randomUUID()] }));
    await expectEctError(verifyUnsignedEct(orphan, { now: clock, store: new MemoryEctStore() }), "ERR_ECT_PARENT_MISSING");
    const relaxed = await verifyUnsignedEct(orphan, { now: clock, store: new MemoryEctStore(), allowMissingParents: true });
    expect(relaxed.missingParents).toHaveLength(1);
  });

  it("rejects a JWS, an alg-none JWT and garbage with ERR_ECT_MALFORMED", async () => {
    const noneJwt = `${b64json({ alg: "none", typ: "wimse-exec+jwt" })}.${b64json(rootClaims())}.`;
    for (const bad of [noneJwt, "a.b.c", "%%%", b64json([1, 2]), b64json("text"), "A", 7, null]) {
      await expectEctError(verifyUnsignedEct(bad, { now: clock }), "ERR_ECT_MALFORMED");
    }
  });
});

describe("decodeEctUnverified", () => {
  it("shows an L1 token's claims as sent, without validating them", () => {
    const decoded = decodeEctUnverified(b64json({ pred: ["x"], exec_act: 5 }));
    expect(decoded).toEqual({ form: "unsigned", header: undefined, claims: { pred: ["x"], exec_act: 5 } });
  });

  it("throws ERR_ECT_MALFORMED on garbage", () => {
    for (const bad of ["not a token", "a.b", "e30.!!.x", 12]) {
      expect(() => decodeEctUnverified(bad)).toThrow(expect.objectContaining({ code: "ERR_ECT_MALFORMED" }));
    }
  });
});
