import type { Command } from "commander";
import { decodeEctUnverified, verifyEct } from "../protocols/index.ts";
import { readArgOrStdin } from "./connection.ts";
import { loadJwks } from "./jwks.ts";
import { examples } from "./output.ts";

interface VerifyFlags {
  jwks: string;
  aud?: string;
  acceptUnsigned?: boolean;
}

/**
 * `tether ect verify` and `tether ect inspect`. Verification is of one token on its own: signature,
 * header, claims and times (and `aud` with --aud). Parents cannot be looked up here; they are listed.
 */
export const registerEctCommand = (program: Command): void => {
  const ect = examples(program.command("ect").description("Execution Context Tokens"), "tether ect inspect eyJhbGciOi...");
  examples(ect.command("verify"), "tether keys jwks > jwks.json && tether ect verify eyJhbGciOi... --jwks jwks.json", "echo $TOKEN | tether ect verify - --jwks https://example.com/jwks.json --aud tether://default")
    .argument("<token>", "compact JWS, or - to read it from stdin")
    .requiredOption("--jwks <file|url>", "JWKS with the issuer's public key (file path or http(s) URL)")
    .option("--aud <id>", "the verifier's id: must be in the token's aud")
    .option("--accept-unsigned", "also accept L1 (unsigned) tokens")
    .description("verify a token; exit 0 and print its claims, or exit 1 and print the error code")
    .action(async (tokenArg: string, flags: VerifyFlags) => {
      const token = await readArgOrStdin(tokenArg);
      const keys = await loadJwks(flags.jwks);
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
  examples(ect.command("inspect"), "echo $TOKEN | tether ect inspect -")
    .argument("<token>", "token, or - to read it from stdin")
    .description("decode a token WITHOUT verifying it (header and claims)")
    .action(async (tokenArg: string) => {
      const decoded = decodeEctUnverified(await readArgOrStdin(tokenArg));
      process.stdout.write(`${JSON.stringify({ verified: false, ...decoded }, null, 2)}\n`);
    });
};
