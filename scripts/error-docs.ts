/**
 * Renders docs/errors.md from protocols' ErrorCodes: `npm run docs:errors`.
 * test/unit/error-codes.test.ts fails when the committed file and the code disagree.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { ErrorCodes } from "../protocols/index.ts";

export const renderErrorDocs = (): string => {
  const rows = Object.entries(ErrorCodes).map(([code, { retryable, summary }]) => `| \`${code}\` | ${retryable ? "yes" : "no"} | ${summary} |`);
  return [
    "# Error codes",
    "",
    "Every error Tether throws or sends is a `TetherError` with a stable `code` (never reused for another",
    "meaning), a `retryable` flag (the code's default, shown here) and an optional `cause`. Check codes with",
    "`hasCode(err, \"ERR_…\")` or `isTetherError(err)`, not `instanceof`. Errors that cross the wire keep their",
    "code: an `ask` rejects with the same code the remote node produced.",
    "",
    "This file is generated from `protocols/error-codes.ts` by `npm run docs:errors`; a test keeps them in step.",
    "",
    "| code | retryable | meaning |",
    "|---|---|---|",
    ...rows,
    "",
  ].join("\n");
};

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  writeFileSync(resolve(import.meta.dirname, "..", "docs", "errors.md"), renderErrorDocs());
  process.stdout.write("wrote docs/errors.md\n");
}
