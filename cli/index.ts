export { buildProgram } from "./program.ts";
export { loadAgents, loadAgentsModule } from "./agents-module.ts";
export type { AgentsModule } from "./agents-module.ts";
export { parseServers } from "./servers.ts";
export { scopeOf, constraintsOf } from "./override-commands.ts";
