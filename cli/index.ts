export { buildProgram } from "./program.ts";
export { loadAgents } from "./agents-module.ts";
export { parseServers } from "./servers.ts";
