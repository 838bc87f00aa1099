import { existsSync, readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { AgentList, AgentSpec } from "../actors/index.ts";
import { TetherError, isTetherError, isValidToken } from "../protocols/index.ts";
import { defineSupervisor, type SupervisorSpec, type SupervisorSpecInput } from "../supervisors/index.ts";

type NodeInfo = { nodeId: string; network: string };

/** What `--agents <module>` exports: agents to host, and supervision trees to register (and start once). */
export interface AgentsModule {
  readonly agents: AgentSpec[];
  readonly supervisors: SupervisorSpec[];
}

/** The package.json Node consults for a file's module kind: the nearest one above it, if any. */
const nearestPackageJson = (file: string): string | undefined => {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
};

const declaresModule = (packageJson: string): boolean => {
  try {
    return (JSON.parse(readFileSync(packageJson, "utf8")) as { type?: unknown }).type === "module";
  } catch {
    return false;
  }
};

/** Errors Node (and tsx) give when an ES module is loaded as CommonJS, none of which names the cause. */
const REQUIRE_ESM_CODES = new Set(["ERR_REQUIRE_CYCLE_MODULE", "ERR_REQUIRE_ESM", "ERR_REQUIRE_ASYNC_MODULE"]);
const REQUIRE_ESM_MESSAGES = /Cannot use import statement outside a module|Unexpected token 'export'|require\(\) of ES Module/;

/**
 * Why an agents module failed to load as CommonJS, in words that name the fix: a `.ts`/`.js` file is
 * CommonJS unless its nearest package.json says `"type": "module"`, and the agents module imports
 * Tether, which is ESM. (Measured: Node 20.19+ then fails with ERR_REQUIRE_CYCLE_MODULE.)
 */
const commonJsExplanation = (file: string, cause: unknown): string | undefined => {
  const code = (cause as { code?: unknown } | null)?.code;
  if (!(typeof code === "string" && REQUIRE_ESM_CODES.has(code)) && !REQUIRE_ESM_MESSAGES.test(String(cause))) return undefined;
  const ext = extname(file);
  if (ext === ".mts" || ext === ".mjs") return undefined;
  const pkg = nearestPackageJson(file);
  if (pkg !== undefined && declaresModule(pkg)) return undefined;
  const where = pkg === undefined ? "there is no package.json in its folder or above" : `${pkg} has no "type": "module"`;
  const fix = pkg === undefined ? `create a package.json with {"type": "module"} in its folder` : `add "type": "module" to ${pkg}`;
  return `it is loaded as CommonJS (${where}), but an agents module is an ES module: ${fix}, or rename it to ${ext === ".js" ? ".mjs" : ".mts"}`;
};

/**
 * Imports `--agents <module>` (Node caches it: loading it again later is free). `tether node start`
 * calls this before it connects, so a module that cannot load fails fast, with no node started.
 */
export const importAgentsModule = async (modulePath: string): Promise<Record<string, unknown>> => {
  const file = isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath);
  if (!existsSync(file)) throw new TetherError("ERR_AGENTS_MODULE_INVALID", `cannot load agents module ${modulePath}: no such file (${file})`);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    const explanation = commonJsExplanation(file, cause);
    const code = (cause as { code?: unknown } | null)?.code;
    const message = explanation === undefined ? String(cause) : `${explanation} (node said: ${typeof code === "string" ? code : String(cause).split("\n")[0]})`;
    throw new TetherError("ERR_AGENTS_MODULE_INVALID", `cannot load agents module ${modulePath}: ${message}`, { cause });
  }
};

/**
 * Loads `--agents <module>`. Agents: `export default defineAgents([...])` (or `export const agents`).
 * Supervision trees: `export const supervisors = [defineSupervisor({...})]`, or a function of the node
 * returning that list. Either export may be absent, not both.
 */
export const loadAgentsModule = async (modulePath: string, node: NodeInfo): Promise<AgentsModule> => {
  const mod = await importAgentsModule(modulePath);
  const exported = (mod["default"] ?? mod["agents"]) as AgentList | undefined;
  const trees = mod["supervisors"];
  if (exported === undefined && trees === undefined) {
    throw new TetherError(
      "ERR_AGENTS_MODULE_INVALID",
      `${modulePath} must export \`default\` or \`agents\` (a defineAgents([...]) list or a function returning one), or \`supervisors\` (a list of defineSupervisor trees)`,
    );
  }
  return {
    agents: exported === undefined ? [] : agentList(modulePath, exported, node),
    supervisors: trees === undefined ? [] : supervisorList(modulePath, trees, node),
  };
};

/** Loads `--agents <module>` and returns the validated agent list for this node. */
export const loadAgents = async (modulePath: string, node: NodeInfo): Promise<AgentSpec[]> => (await loadAgentsModule(modulePath, node)).agents;

const agentList = (modulePath: string, exported: AgentList, node: NodeInfo): AgentSpec[] => {
  const list = typeof exported === "function" ? exported(node) : exported;
  if (!Array.isArray(list)) throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath}: the agent list is not an array`);
  const ids = new Set<string>();
  return list.map((spec: unknown, index) => {
    const s = spec as Partial<AgentSpec>;
    if (typeof s?.id !== "string" || !isValidToken(s.id)) {
      throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath}: agent #${index} has no valid id (got ${JSON.stringify(s?.id)})`);
    }
    if (typeof s.actor !== "function") throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath}: agent ${s.id} has no actor class`);
    if (ids.has(s.id)) throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath}: agent id ${s.id} appears twice`);
    ids.add(s.id);
    return s as AgentSpec;
  });
};

const supervisorList = (modulePath: string, exported: unknown, node: NodeInfo): SupervisorSpec[] => {
  const list: unknown = typeof exported === "function" ? (exported as (n: NodeInfo) => unknown)(node) : exported;
  if (!Array.isArray(list)) throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath}: \`supervisors\` is not an array of defineSupervisor trees`);
  const ids = new Set<string>();
  return list.map((tree: unknown, index) => {
    let spec: SupervisorSpec;
    try {
      spec = defineSupervisor(tree as SupervisorSpecInput); // validated again: the module may export plain objects
    } catch (cause) {
      const message = isTetherError(cause) ? cause.message : String(cause);
      throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath}: supervision tree #${index}: ${message}`, { cause });
    }
    if (ids.has(spec.id)) throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath}: supervision tree ${spec.id} appears twice`);
    ids.add(spec.id);
    return spec;
  });
};
