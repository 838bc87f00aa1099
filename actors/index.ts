export { Actor } from "./actor.ts";
export { defineAgents } from "./agent-spec.ts";
export type { AgentSpec, AgentList } from "./agent-spec.ts";
