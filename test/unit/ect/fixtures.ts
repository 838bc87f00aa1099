import { base64url, CompactSign, type CryptoKey } from "jose";
import { expect } from "vitest";
import { isTetherError, type ErrorCode } from "../../../protocols/index.ts";
import {
  generateSigningKey,
  JwksKeyResolver,
  type EctClaims,
  type MintEctOptions,
  type SigningKey,
} from "../../../protocols/index.ts";

/** The fixed clock of every ECT unit test: 2025-10-09T08:53:20Z. */
export const NOW_MS = 1_760_000_000_000;
export const NOW_S = NOW_MS / 1000;
export const clock = (): number => NOW_MS;
export const at = (seconds: number) => (): number => seconds * 1000;

export const ISSUER = "spiffe://example.com/agent/a";
export const VERIFIER = "spiffe://example.com/agent/b";
export const WORKFLOW = "0f6b3b0e-7c1a-4d2e-9a51-2b8c9d0e1f23";

export interface TestKeys {
  readonly es: SigningKey;
  readonly ed: SigningKey;
  /** Trusts `es` and `ed`. */
  readonly resolver: JwksKeyResolver;
}

export const makeKeys = async (): Promise<TestKeys> => {
  const es = await generateSigningKey("ES256");
  const ed = await generateSigningKey("EdDSA");
  return { es, ed, resolver: new JwksKeyResolver({ keys: [es.publicJwk, ed.publicJwk] }) };
};

export const signerOf = (key: SigningKey): Pick<MintEctOptions, "key" | "kid" | "alg"> => ({
  key: key.privateKey,
  kid: key.kid,
  alg: key.alg,
});

/** Valid claims for a root task, issued at NOW. */
export const rootClaims = (overrides: Record<string, unknown> = {}): EctClaims => ({
  iss: ISSUER,
  aud: [VERIFIER],
  iat: NOW_S,
  exp: NOW_S + 600,
  jti: crypto.randomUUID(),
  exec_act: "review_spec",
  par: [],
  ...overrides,
});

export const b64json = (value: unknown): string => base64url.encode(JSON.stringify(value));

/** Signs any payload under any header, bypassing mintEct's validation: for building bad tokens. */
export const signRaw = async (payload: unknown, header: Record<string, unknown>, key: CryptoKey | Uint8Array): Promise<string> =>
  new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header as { alg: string })
    .sign(key);

/** A raw payload signed with the ES256 test key and a correct header. */
export const signClaims = (keys: TestKeys, payload: unknown, header: Record<string, unknown> = {}): Promise<string> =>
  signRaw(payload, { alg: "ES256", typ: "wimse-exec+jwt", kid: keys.es.kid, ...header }, keys.es.privateKey);

/** Awaits a rejection and checks it is a TetherError with `code`; returns it for further checks. */
export const expectEctError = async (promise: Promise<unknown>, code: ErrorCode) => {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(isTetherError(error), `expected a TetherError, got ${String(error)}`).toBe(true);
  if (!isTetherError(error)) throw new Error("unreachable");
  expect(error.code).toBe(code);
  return error;
};
