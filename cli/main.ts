import { isTetherError } from "../protocols/index.ts";
import { endQuietlyOnBrokenPipe } from "./output.ts";
import { buildProgram } from "./program.ts";

/** Runs the CLI; a TetherError prints `error ERR_CODE: message` and exits 1, never a stack trace. */
export const main = async (argv: readonly string[]): Promise<void> => {
  endQuietlyOnBrokenPipe();
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (error) {
    if (isTetherError(error)) {
      process.stderr.write(`tether: error ${error.code}: ${error.message}\n`);
    } else {
      process.stderr.write(`tether: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exitCode = 1;
  }
};

await main(process.argv);
