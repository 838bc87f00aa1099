import { createPublicKey, type KeyObject } from "node:crypto";
import type { CryptoKey } from "jose";
import { ectError } from "./ect-errors.ts";
import type { EctAlgorithm } from "./header.ts";
import { algorithmOf, EctPublicJwk, publicMembers, publishableJwk } from "./jwk.ts";

/** A verification key and the one algorithm it may be used with. */
export interface ResolvedKey {
  readonly key: CryptoKey | KeyObject;
  readonly alg: EctAlgorithm;
}

/**
 * Where a verifier finds the issuer's public key by `kid` (Tether: the key registry).
 * `isRevoked` is asked first, so a revoked key is reported as such even after it was removed.
 */
export interface KeyResolver {
  resolve(kid: string): Promise<ResolvedKey | undefined>;
  isRevoked?(kid: string): boolean;
}

/** A JSON Web Key Set: `{ keys: [...] }`. */
export interface JsonWebKeySet {
  readonly keys: readonly unknown[];
}

/**
 * In-memory resolver over a JWKS. Takes EC P-256 and OKP Ed25519 public keys that have a `kid`
 * (and, when present, `alg` matching the curve and `use: "sig"`); silently skips any other entry,
 * as JWKS consumers do. Only the public members are kept: a private JWK passed by mistake loses `d`.
 * *Tether*: a later key with the same `kid` replaces the earlier one (rotation by re-adding).
 */
export class JwksKeyResolver implements KeyResolver {
  readonly #keys = new Map<string, { readonly jwk: EctPublicJwk; readonly resolved: ResolvedKey }>();
  readonly #revoked = new Set<string>();

  constructor(jwks: JsonWebKeySet = { keys: [] }) {
    const keys: unknown = (jwks as { keys?: unknown } | null | undefined)?.keys;
    if (!Array.isArray(keys)) throw ectError("ERR_CONFIG_INVALID", "a JWKS must be an object with a keys array", {});
    for (const jwk of keys) this.add(jwk);
  }

  /** Adds (or replaces) a key; returns false when the entry is not a usable ECT verification key. */
  add(jwk: unknown): boolean {
    const parsed = EctPublicJwk.safeParse(jwk);
    if (!parsed.success) return false;
    const members = publicMembers(parsed.data);
    let key: KeyObject;
    try {
      // Synchronous import also checks that the point is on the curve.
      key = createPublicKey({ key: members, format: "jwk" });
    } catch {
      return false;
    }
    const alg = algorithmOf(parsed.data);
    this.#keys.set(parsed.data.kid, { jwk: publishableJwk(members, parsed.data.kid), resolved: { key, alg } });
    return true;
  }

  /** Marks a kid revoked for good: tokens naming it fail with ERR_ECT_KEY_REVOKED, even if re-added. */
  revoke(kid: string): void {
    this.#revoked.add(kid);
  }

  isRevoked(kid: string): boolean {
    return this.#revoked.has(kid);
  }

  resolve(kid: string): Promise<ResolvedKey | undefined> {
    return Promise.resolve(this.#revoked.has(kid) ? undefined : this.#keys.get(kid)?.resolved);
  }

  /** The usable (not revoked) public keys, for publishing. */
  toJwks(): { keys: EctPublicJwk[] } {
    return { keys: [...this.#keys].filter(([kid]) => !this.#revoked.has(kid)).map(([, entry]) => entry.jwk) };
  }
}
