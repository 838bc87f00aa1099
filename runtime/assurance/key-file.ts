import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { TetherError, exportPrivateJwk, generateSigningKey, importPrivateJwk, type EctAlgorithm, type SigningKey } from "../../protocols/index.ts";

/**
 * Loads the private signing key at `path`, or creates one (ES256 by default) and saves it with
 * owner-only permissions (file 0600 in a 0700 directory). A key file readable by others is refused.
 */
export const loadOrCreateSigningKey = async (path: string, alg: EctAlgorithm = "ES256"): Promise<{ key: SigningKey; created: boolean }> => {
  if (existsSync(path)) return { key: await loadSigningKey(path), created: false };
  const key = await generateSigningKey(alg);
  saveSigningKey(path, await exportPrivateJwk(key));
  return { key, created: true };
};

/** Loads the private signing key at `path` (an operator's key file); refuses a missing file or one readable by others. */
export const loadSigningKey = async (path: string): Promise<SigningKey> => {
  if (!existsSync(path)) throw new TetherError("ERR_CONFIG_INVALID", `no key file ${path}`);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new TetherError("ERR_CONFIG_INVALID", `key file ${path} is accessible by others (mode ${mode.toString(8)}): chmod 600 it`);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `key file ${path} is not JSON`, { cause });
  }
  return importPrivateJwk(jwk);
};

/** Writes a private JWK with mode 0600 (directory 0700). */
export const saveSigningKey = (path: string, jwk: object): void => {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
};
