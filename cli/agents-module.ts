import { isAbsolute, resolve } from "node:path";
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

const importModule = async (modulePath: string): Promise<Record<string, unknown>> => {
  const url = pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (cause) {
    throw new TetherError("ERR_AGENTS_MODULE_INVALID", `cannot load agents module ${modulePath}: ${String(cause)}`, { cause });
  }
};

/**
 * Loads `--agents <module>`. Agents: `export default defineAgents([...])` (or `export const agents`).
 * Supervision trees: `export const supervisors = [defineSupervisor({...})]`, or a function of the node
 * returning that list. Either export may be absent, not both.
 */
export const loadAgentsModule = async (modulePath: string, node: NodeInfo): Promise<AgentsModule> => {
  const mod = await importModule(modulePath);
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
