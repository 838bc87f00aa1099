export { buildProgram } from "./program.ts";
export { loadAgents, loadAgentsModule } from "./agents-module.ts";
export type { AgentsModule } from "./agents-module.ts";
export { parseServers } from "./servers.ts";
export { NodeHealth, startMetricsServer } from "./metrics-server.ts";
export type { HealthReport, MetricsServer } from "./metrics-server.ts";
export { addPolicyCommand, applyPolicyFlags, registerNetworkPolicyCommand } from "./network-policy-command.ts";
export { registerMembersCommand } from "./members-command.ts";
