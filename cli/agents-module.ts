import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { AgentList, AgentSpec } from "../actors/index.ts";
import { TetherError, isValidToken } from "../protocols/index.ts";

/** Loads `--agents <module>` and returns the validated agent list for this node. */
export const loadAgents = async (modulePath: string, node: { nodeId: string; network: string }): Promise<AgentSpec[]> => {
  const url = pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (cause) {
    throw new TetherError("ERR_AGENTS_MODULE_INVALID", `cannot load agents module ${modulePath}: ${String(cause)}`, { cause });
  }
  const exported = (mod["default"] ?? mod["agents"]) as AgentList | undefined;
  if (exported === undefined) {
    throw new TetherError("ERR_AGENTS_MODULE_INVALID", `${modulePath} must export \`default\` or \`agents\`: a defineAgents([...]) list or a function returning one`);
  }
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
