import { describe, expect, it } from "vitest";
import { isTetherError } from "../../../protocols/index.ts";
import {
  MemoryEctStore,
  MemoryReplayCache,
  mintEct,
  mintUnsignedEct,
  verifyEct,
  verifyUnsignedEct,
} from "../../../protocols/index.ts";
import { b64json, clock, makeKeys, rootClaims, signClaims, signerOf, signRaw, WORKFLOW } from "./fixtures.ts";

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from the seed. */
const prng = (seed: number) => {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const SEED = 0x0ec7_2026;
const CASES = 3_000;
const BASE_JTI = "6a1c3f0e-2b4d-4c8e-9f10-7e2d3c4b5a69";
const MISSING_PARENT = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const PALETTE = `${B64URL}...+/= {}[]":,\\\u0000\u00e9\u2603\ud83d\ude00\ud800`;
const KEYS = ["iss", "aud", "iat", "exp", "jti", "exec_act", "par", "pred", "wid", "inp_hash", "out_hash", "ext", "ect_ext", "__proto__", "alg", "typ", "kid", "crit", "dev.tether.x"];

describe("ECT fuzzing", () => {
  it(`rejects ${CASES} random and mutated tokens with an ERR_ECT_ TetherError and throws nothing else`, async () => {
    const random = prng(SEED);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
    const randomString = (max: number, alphabet = PALETTE) => Array.from({ length: int(max + 1) }, () => alphabet[int(alphabet.length)]).join("");
    const randomJson = (depth: number): unknown => {
      switch (int(depth > 3 ? 6 : 8)) {
        case 0: return null;
        case 1: return random() < 0.5;
        case 2: return pick([0, -1, 1.5, 2 ** 53, -(2 ** 60), 1e308, Math.floor(random() * 2e9)]);
        case 3: return randomString(40);
        case 4: return pick(["", "none", "ES256", "EdDSA", "exec+jwt", BASE_JTI, WORKFLOW, "x".repeat(5000)]);
        case 5: return randomString(43, B64URL);
        case 6: return Array.from({ length: int(4) }, () => randomJson(depth + 1));
        default: return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(KEYS), randomJson(depth + 1)]));
      }
    };

    const keys = await makeKeys();
    const store = new MemoryEctStore();
    const replayCache = new MemoryReplayCache({ now: clock });
    // Every base token names a parent that is never stored, and its jti is consumed below in both
    // replay scopes, so a mutation that happens to stay valid is still refused (replay or parent).
    const claims = rootClaims({ jti: BASE_JTI, wid: WORKFLOW, par: [MISSING_PARENT], ext: { "dev.tether.node": "n1" } });
    const { wid: _wid, ...claimsNoWid } = claims;
    const bases = [
      await mintEct(claims, signerOf(keys.es)),
      await mintEct(claimsNoWid, signerOf(keys.ed)),
      await signClaims(keys, { ...claims, par: undefined, pred: [MISSING_PARENT], ect_ext: { "com.example.y": [1] } }, { typ: "exec+jwt" }),
      mintUnsignedEct(claims),
      mintUnsignedEct(claimsNoWid),
    ];
    const options = (acceptUnsigned: boolean) => ({ keys: keys.resolver, now: clock, store, replayCache, acceptUnsigned });
    for (const base of bases) await verifyEct(base, options(true)).catch(() => undefined);

    const mutateClaims = (): Record<string, unknown> => {
      const out: Record<string, unknown> = { ...(random() < 0.5 ? claims : claimsNoWid) };
      for (let n = 1 + int(2); n > 0; n--) {
        const key = pick(KEYS);
        if (random() < 0.3) delete out[key];
        else out[key] = randomJson(1);
      }
      return out;
    };

    const generators: Array<(pickBase: () => string) => unknown | Promise<unknown>> = [
      // bit flip
      (pickBase) => {
        const t = pickBase();
        const i = int(t.length);
        return t.slice(0, i) + String.fromCharCode(t.charCodeAt(i) ^ (1 << int(16))) + t.slice(i + 1);
      },
      // truncation
      (pickBase) => {
        const t = pickBase();
        return t.slice(0, int(t.length));
      },
      // swapped or duplicated segments
      (pickBase) => {
        const s = pickBase().split(".");
        return [pick(s), pick(s), pick(s)].slice(0, 1 + int(4)).join(".");
      },
      // insert or delete a character
      (pickBase) => {
        const t = pickBase();
        const i = int(t.length);
        return random() < 0.5 ? t.slice(0, i) + randomString(3) + t.slice(i) : t.slice(0, i) + t.slice(i + 1 + int(4));
      },
      // a segment replaced with random base64url
      (pickBase) => {
        const s = pickBase().split(".");
        s[int(s.length)] = randomString(120, B64URL);
        return s.join(".");
      },
      // random JSON as header and/or payload
      () => {
        const s = pick(bases.slice(0, 3)).split(".");
        if (random() < 0.6) s[0] = b64json(randomJson(0));
        if (random() < 0.6) s[1] = b64json(randomJson(0));
        return s.join(".");
      },
      // random JSON as an L1 token
      () => b64json(randomJson(0)),
      // random characters
      () => randomString(200),
      () => randomString(2 + int(300), `${B64URL}.`),
      // mutated claims, validly signed by a trusted key or sent as L1
      () => (random() < 0.5 ? signClaims(keys, mutateClaims()) : b64json(mutateClaims())),
      // mutated header, validly signed
      () => {
        const header: Record<string, unknown> = { alg: "ES256", typ: "wimse-exec+jwt", kid: keys.es.kid };
        header[pick(["alg", "typ", "kid", "crit", "b64", "jwk"])] = randomJson(2);
        if (header["alg"] !== "ES256" || header["crit"] !== undefined || header["b64"] !== undefined) {
          return `${b64json(header)}.${b64json(claims)}.${randomString(86, B64URL)}`;
        }
        return signRaw(claims, header, keys.es.privateKey);
      },
      // concatenations and non-strings
      (pickBase) => `${pickBase()}.${pickBase()}`,
      () => pick<unknown>([undefined, null, 0, -1, NaN, true, {}, [], ["a.b.c"], new Uint8Array(8), Symbol("x"), () => "x", 10n]),
    ];

    const failures: string[] = [];
    const codes = new Map<string, number>();
    for (let n = 0; n < CASES; n++) {
      const unsignedPath = n % 2 === 1;
      // Each path mostly gets mutations of its own kind of token (L1 for the unsigned verifier).
      const pickBase = () => (unsignedPath === (random() < 0.8) ? pick(bases.slice(3)) : pick(bases.slice(0, 3)));
      const input = await pick(generators)(pickBase);
      try {
        const result = unsignedPath ? await verifyUnsignedEct(input, options(false)) : await verifyEct(input, options(random() < 0.5));
        failures.push(`case ${n}: accepted ${JSON.stringify(result.claims).slice(0, 200)}`);
      } catch (error) {
        if (isTetherError(error)) codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        if (!isTetherError(error) || !error.code.startsWith("ERR_ECT_")) {
          failures.push(`case ${n}: threw ${String(error)} for ${typeof input === "string" ? input.slice(0, 120) : typeof input}`);
        }
      }
    }
    expect(failures).toEqual([]);
    // The corpus reaches deep into the pipeline, not only the first parse.
    for (const code of ["ERR_ECT_MALFORMED", "ERR_ECT_SIGNATURE_INVALID", "ERR_ECT_CLAIM_INVALID", "ERR_ECT_REPLAYED", "ERR_ECT_ALG_NOT_ALLOWED"]) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
  }, 30_000);
});
