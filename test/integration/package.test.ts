import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The package as a user gets it: `npm pack` (which builds dist/), installed from the tarball into a
// plain Node ESM project outside this checkout, then used from JavaScript, from TypeScript and as a CLI.

const root = resolve(import.meta.dirname, "..", "..");
const run = promisify(execFile);
const ownPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

/**
 * The environment for npm in the temporary project: without the `npm_*` variables that `npm test` sets
 * for this checkout (its package, lifecycle and prefix), which would otherwise point npm back here.
 */
const npmEnv = (): NodeJS.ProcessEnv => {
  const keep = new Set(["npm_config_cache", "npm_config_registry", "npm_config_userconfig"]);
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_") || keep.has(key.toLowerCase())));
};

const APP_MJS = `
import { z } from "zod";
import { Actor } from "tether-agents/actors";
import { Node } from "tether-agents/runtime";

const Msg = z.discriminatedUnion("type", [z.strictObject({ type: z.literal("greet"), name: z.string().max(64) })]);

class Greeter extends Actor {
  static protocol = Msg;
  state = { greeted: 0 };
  async handle(msg) {
    this.state.greeted++;
    return { text: "hello " + msg.name, greeted: this.state.greeted };
  }
}

const node = await Node.create(); // no servers: an embedded nats-server on a free loopback port
try {
  const greeter = await node.spawn("greeter", Greeter);
  await greeter.ask({ type: "greet", name: "ada" });
  console.log(JSON.stringify(await node.ref("greeter").ask({ type: "greet", name: "grace" })));
} finally {
  await node.close();
}
`;

const CONSUMER_TS = `
import { z } from "zod";
import { Actor, defineAgents } from "tether-agents/actors";
import { Node, type ActorContext } from "tether-agents/runtime";
import { hasCode } from "tether-agents/protocols";
import { defineSupervisor } from "tether-agents/supervisors";

const CounterMsg = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("add"), n: z.number().int().max(1000) }),
  z.strictObject({ type: z.literal("get") }),
]);
type CounterMsg = z.infer<typeof CounterMsg>;

export class Counter extends Actor<CounterMsg, { total: number }> {
  static override readonly protocol = CounterMsg;
  override state = { total: 0 };

  async handle(msg: CounterMsg, ctx: ActorContext) {
    switch (msg.type) {
      case "add":
        await ctx.act("add", { n: msg.n }, () => (this.state.total += msg.n));
        return { ok: true as const };
      case "get":
        return this.state.total;
    }
  }
}

export default defineAgents([{ id: "counter", actor: Counter }]);
export const supervisors = [defineSupervisor({ id: "tree", children: [{ id: "c1", start: () => new Counter(), restart: "permanent" }] })];

export const main = async (): Promise<number | { ok: true }> => {
  await using node = await Node.create();
  const counter = await node.spawn("counter", Counter);
  await counter.ask({ type: "add", n: 2 });
  // @ts-expect-error: "sub" is not in the counter's protocol
  await counter.tell({ type: "sub", n: 1 });
  try {
    return await node.ref<typeof Counter>("counter").ask({ type: "get" });
  } catch (error) {
    if (hasCode(error, "ERR_ASK_TIMEOUT")) return 0;
    throw error;
  }
};
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2023", "ESNext.Disposable"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    strict: true,
    // not exactOptionalPropertyTypes: @nats-io/nats-core's own .d.ts files fail under it
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    verbatimModuleSyntax: true,
    // the package's .d.ts files are checked too, as a consumer's stricter settings would
    skipLibCheck: false,
    noEmit: true,
  },
  files: ["consumer.ts"],
};

// After the shared pack-and-install, the checks are independent and run concurrently.
describe.concurrent("the npm package", () => {
  let work = "";
  let app = "";
  let tarball = "";
  let packed: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "tether-package-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, env: npmEnv(), maxBuffer: 16 * 1024 * 1024 });
    const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(work, info.filename);
    packed = info.files.map((f) => f.path);

    app = join(work, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "tether-consumer", version: "1.0.0", private: true, type: "module" }, null, 2));
    // zod for the app's own schemas, @types/node for tsc: the versions this checkout uses, so npm finds them in its cache
    const extras = [`zod@${ownPackage.dependencies["zod"]}`, `@types/node@${ownPackage.devDependencies["@types/node"]}`];
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball, ...extras], { cwd: app, env: npmEnv() });
  }, 240_000);

  afterAll(() => {
    if (work !== "") rmSync(work, { recursive: true, force: true });
  });

  it("holds the compiled package, its bin, the cluster configs, LICENSE and README, and no sources, tests or benchmarks", () => {
    expect(packed).toEqual(expect.arrayContaining(["package.json", "LICENSE", "README.md", "bin/tether.js", "dist/nats.conf", "dist/cluster-routes.conf"]));
    for (const entry of ["runtime", "actors", "supervisors", "protocols"]) {
      expect(packed).toEqual(expect.arrayContaining([`dist/${entry}/index.js`, `dist/${entry}/index.d.ts`]));
    }
    expect(packed.filter((p) => !/^(dist\/|bin\/tether\.js$|package\.json$|LICENSE$|README\.md$)/.test(p))).toEqual([]);
    expect(packed.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
    expect(packed.filter((p) => /(^|\/)(test|bench|examples|\.ci)\//.test(p))).toEqual([]);
  });

  it("installs without tsx, hdr-histogram-js or the OpenTelemetry SDK", () => {
    for (const absent of ["tsx", "hdr-histogram-js", "@opentelemetry/sdk-node"]) {
      expect(existsSync(join(app, "node_modules", absent)), absent).toBe(false);
    }
    expect(existsSync(join(app, "node_modules", "@opentelemetry", "api"))).toBe(true);
  });

  it("is imported from an .mjs file that spawns an actor on an embedded nats-server and asks it", async () => {
    writeFileSync(join(app, "app.mjs"), APP_MJS);
    const { stdout } = await run(process.execPath, ["app.mjs"], { cwd: app, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ text: "hello grace", greeted: 2 });
  });

  it("typechecks a TypeScript consumer with tsc, its .d.ts files included", async () => {
    writeFileSync(join(app, "consumer.ts"), CONSUMER_TS);
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const result = await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: app, timeout: 110_000 }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    expect(result.stdout).toBe("");
  }, 120_000);

  it("runs `npx tether --help` as compiled JavaScript", async () => {
    const { stdout } = await run("npx", ["tether", "--help"], { cwd: app, env: npmEnv(), timeout: 30_000 });
    expect(stdout).toMatch(/^Usage: tether /);
    expect(stdout).toMatch(/\bnode\b/);
    const version = await run(join(app, "node_modules", ".bin", "tether"), ["--version"], { cwd: app, timeout: 30_000 });
    expect(version.stdout.trim()).toBe(ownPackage.version);
  });
});
