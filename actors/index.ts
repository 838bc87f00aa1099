export { Actor } from "./actor.ts";
export { defineAgents } from "./agent-spec.ts";
export type { AgentSpec, AgentList } from "./agent-spec.ts";
export { AuditLedger, createAuditLedgerDeps } from "./audit/audit-ledger.ts";
export type { AuditLedgerDeps, AuditLedgerDepsOptions } from "./audit/audit-ledger.ts";
export { SlotPool } from "./slot-pool.ts";
