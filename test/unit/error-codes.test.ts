import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCodes } from "../../protocols/index.ts";
import { renderErrorDocs } from "../../scripts/error-docs.ts";

describe("error codes", () => {
  it("are all documented in docs/errors.md exactly as the code defines them", () => {
    const committed = readFileSync(resolve(import.meta.dirname, "..", "..", "docs", "errors.md"), "utf8");
    expect(committed, "run `npm run docs:errors` and commit docs/errors.md").toBe(renderErrorDocs());
    for (const code of Object.keys(ErrorCodes)) expect(committed).toContain(`\`${code}\``);
  });

  it("follow the ERR_<AREA>_<WHAT> form", () => {
    for (const code of Object.keys(ErrorCodes)) expect(code).toMatch(/^ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/);
  });
});
