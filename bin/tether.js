#!/usr/bin/env node
// The `tether` binary: runs the compiled CLI in this process (no transpiler, no wrapper process, so
// SIGINT/SIGTERM reach the node directly). dist/ is built by `npm run build`, which `npm pack` and
// `npm run setup` run; `npm run tether -- …` runs the TypeScript sources instead.
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("tether: dist/ is not built: run `npm run build` (or `npm run tether -- …` to run the sources)\n");
  process.exit(1);
}
await import(main.href);
