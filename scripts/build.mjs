#!/usr/bin/env node
// `npm run build` (also run by `npm pack` and, when dist/ is missing or older than the sources, by
// `npm run setup`): compiles runtime/, actors/, supervisors/, protocols/ and cli/ to dist/ (JavaScript
// and .d.ts, per tsconfig.build.json) and copies the cluster config templates next to them, where
// runtime/embedded/nats-cluster.ts looks for them (two folders up from its own file).
//   node scripts/build.mjs [--if-stale]
// It reports on stderr, so that stdout stays clean for `npm pack --json`.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const dist = join(root, "dist");
const SOURCES = ["runtime", "actors", "supervisors", "protocols", "cli"];
const INPUTS = ["package.json", "tsconfig.json", "tsconfig.build.json", "nats.conf", "cluster-routes.conf"];
const ASSETS = ["nats.conf", "cluster-routes.conf"];
// Touched last: its time stamp is when the last build finished.
const marker = join(dist, "cli", "main.js");

const newestInput = () => {
  let newest = 0;
  const visit = (path) => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const name of [...SOURCES, ...INPUTS]) visit(join(root, name));
  return newest;
};

if (process.argv.includes("--if-stale") && existsSync(marker) && statSync(marker).mtimeMs >= newestInput()) {
  process.stderr.write("build: dist/ is up to date\n");
  process.exit(0);
}

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const run = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
if (run.status !== 0) {
  rmSync(dist, { recursive: true, force: true });
  process.stderr.write("build: tsc failed\n");
  process.exit(1);
}
for (const asset of ASSETS) copyFileSync(join(root, asset), join(dist, asset));
const now = new Date();
utimesSync(marker, now, now);
process.stderr.write("build: wrote dist/\n");
