import { existsSync, readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, type Authenticator } from "@nats-io/transport-node";
import { TetherError } from "../../protocols/index.ts";

/**
 * Credentials files. A Tether network's identities are nkey users of config-file accounts
 * (docs/networks.md says why), so a file holds one user nkey seed in the decorated format of
 * `nsc`'s `.creds`/`.nk` files. A standard JWT `.creds` file (operator mode) is accepted too.
 */
const SEED_BLOCK = /-{3,}BEGIN USER NKEY SEED-{3,}\s*\n\s*(SU[A-Z2-7]{56})\s*\n\s*-{3,}END USER NKEY SEED-{3,}/;
const JWT_BLOCK = /-{3,}BEGIN NATS USER JWT-{3,}/;
const BARE_SEED = /^\s*(SU[A-Z2-7]{56})\s*$/;

/** The text of a credentials file for the user with `seed` (and its public key, for people reading it). */
export const formatCredentials = (seed: string, publicKey: string, identity: string): string =>
  [
    `# Tether identity ${identity} (nkey user ${publicKey}). Keep this file secret: mode 0600.`,
    "-----BEGIN USER NKEY SEED-----",
    seed,
    "------END USER NKEY SEED------",
    "",
  ].join("\n");

/**
 * An authenticator for `connect` from `credentials`: a path of a credentials file, or its contents.
 * Bad input is ERR_CREDENTIALS_INVALID naming what was wrong (never the seed).
 */
export const credentialsAuthenticator = (credentials: string): Authenticator => {
  const looksInline = credentials.includes("\n") || BARE_SEED.test(credentials);
  let text = credentials;
  if (!looksInline) {
    if (!existsSync(credentials)) throw new TetherError("ERR_CREDENTIALS_INVALID", `credentials file ${credentials} does not exist`);
    try {
      text = readFileSync(credentials, "utf8");
    } catch (cause) {
      throw new TetherError("ERR_CREDENTIALS_INVALID", `cannot read credentials file ${credentials}: ${String(cause)}`, { cause });
    }
  }
  if (JWT_BLOCK.test(text)) return credsAuthenticator(new TextEncoder().encode(text));
  const seed = SEED_BLOCK.exec(text)?.[1] ?? BARE_SEED.exec(text)?.[1];
  if (seed === undefined) {
    throw new TetherError("ERR_CREDENTIALS_INVALID", `${looksInline ? "the credentials" : `credentials file ${credentials}`} hold neither a user nkey seed nor a NATS user JWT`);
  }
  return nkeyAuthenticator(new TextEncoder().encode(seed));
};
