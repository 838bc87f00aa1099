import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { JwksKeyResolver, TetherError, decodeEctUnverified, verifyEct } from "../protocols/index.ts";
import { readArgOrStdin } from "./connection.ts";

interface VerifyFlags {
  jwks: string;
  aud?: string;
  acceptUnsigned?: boolean;
}

/** Loads a JWKS from a file path or an http(s) URL. */
const loadJwks = async (source: string): Promise<unknown> => {
  if (/^https?:\/\//.test(source)) {
    let response: Response;
    try {
      response = await fetch(source, { signal: AbortSignal.timeout(10_000) });
    } catch (cause) {
      throw new TetherError("ERR_CONFIG_INVALID", `cannot fetch JWKS ${source}: ${String(cause)}`, { cause });
    }
    if (!response.ok) throw new TetherError("ERR_CONFIG_INVALID", `cannot fetch JWKS ${source}: HTTP ${response.status}`);
    return response.json();
  }
  try {
    return JSON.parse(readFileSync(source, "utf8"));
  } catch (cause) {
    throw new TetherError("ERR_CONFIG_INVALID", `cannot read JWKS file ${source}: ${String(cause)}`, { cause });
  }
};

/**
 * `tether ect verify` and `tether ect inspect`. Verification is of one token on its own: signature,
 * header, claims and times (and `aud` with --aud). Parents cannot be looked up here; they are listed.
 */
export const registerEctCommand = (program: Command): void => {
  const ect = program.command("ect").description("Execution Context Tokens");
  ect
    .command("verify")
    .argument("<token>", "compact JWS, or - to read it from stdin")
    .requiredOption("--jwks <file|url>", "JWKS with the issuer's public key (file path or http(s) URL)")
    .option("--aud <id>", "the verifier's id: must be in the token's aud")
    .option("--accept-unsigned", "also accept L1 (unsigned) tokens")
    .description("verify a token; exit 0 and print its claims, or exit 1 and print the error code")
    .action(async (tokenArg: string, flags: VerifyFlags) => {
      const token = await readArgOrStdin(tokenArg);
      const jwks = await loadJwks(flags.jwks);
      const keys = new JwksKeyResolver(jwks as { keys: unknown[] });
      const verified = await verifyEct(token, {
        keys,
        allowMissingParents: true,
        ...(flags.aud === undefined ? {} : { audience: flags.aud }),
        ...(flags.acceptUnsigned === true ? { acceptUnsigned: true } : {}),
      });
      process.stdout.write(
        `${JSON.stringify({ valid: true, level: verified.level, header: verified.header ?? null, claims: verified.claims, unverifiedParents: verified.missingParents }, null, 2)}\n`,
      );
    });
  ect
    .command("inspect")
    .argument("<token>", "token, or - to read it from stdin")
    .description("decode a token WITHOUT verifying it (header and claims)")
    .action(async (tokenArg: string) => {
      const decoded = decodeEctUnverified(await readArgOrStdin(tokenArg));
      process.stdout.write(`${JSON.stringify({ verified: false, ...decoded }, null, 2)}\n`);
    });
};
