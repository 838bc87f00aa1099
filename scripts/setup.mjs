#!/usr/bin/env node
// `npm run setup`: installs what a fresh machine lacks, and is quick when everything is present.
//   1. Node >= 20.11
//   2. nats-server (Debian package `nats-server`, via apt-get when running as root)
//   3. npm ci (skipped when node_modules already matches package-lock.json)
//   4. dist/, the compiled package behind `npx tether` (skipped when newer than every source)
// Plain Node (no dependencies), because it runs before `npm ci`.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";

const say = (line) => process.stdout.write(`setup: ${line}\n`);
const fail = (line) => {
  process.stderr.write(`setup: ${line}\n`);
  process.exit(1);
};

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 11)) fail(`Node ${process.versions.node} is too old: Tether needs Node 20.11 or newer.`);

const findNatsServer = () => {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];
  return dirs.map((d) => join(d, "nats-server")).find((p) => existsSync(p));
};

let nats = findNatsServer();
if (nats === undefined) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
  if (!isRoot || !hasApt) {
    fail(
      "nats-server is not installed. Install it and re-run `npm run setup`:\n" +
        "  Debian/Ubuntu: sudo apt-get install -y nats-server\n" +
        "  elsewhere: a nats-server 2.9+ release binary on PATH (or set TETHER_NATS_SERVER to its path)",
    );
  }
  say("installing nats-server (Debian package) with apt-get...");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "nats-server"], { stdio: "inherit", env });
  nats = findNatsServer();
  if (nats === undefined) fail("apt-get finished but nats-server is still not found.");
}
// openssl makes the development CA of `tether cluster up --tls` (and the TLS tests' certificates)
if (!existsSync("/usr/bin/openssl")) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
  if (!isRoot || !hasApt) fail("openssl is not installed (needed for `tether cluster up --tls`): sudo apt-get install -y openssl, then re-run `npm run setup`.");
  say("installing openssl (Debian package) with apt-get...");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "openssl"], { stdio: "inherit", env });
}
const version = spawnSync(nats, ["--version"], { encoding: "utf8" }).stdout.trim();
say(`nats-server: ${nats} (${version})`);

const lock = readFileSync("package-lock.json");
const digest = createHash("sha256").update(lock).digest("hex");
const stamp = join("node_modules", ".tether-setup-stamp");
if (existsSync(stamp) && readFileSync(stamp, "utf8") === digest) {
  say("node_modules is up to date with package-lock.json");
} else {
  say("npm ci...");
  const ci = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
  if (ci.status !== 0) fail("npm ci failed (see above).");
  writeFileSync(stamp, digest);
}
// dist/: the compiled CLI behind `npx tether`, rebuilt only when a source is newer
const build = spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { stdio: "inherit" });
if (build.status !== 0) fail("the build failed (see above).");
say("ready. Next: `npm run demo` or `npm test`.");
