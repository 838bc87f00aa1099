export { Node } from "./node.ts";
export type { NodeDeps, SpawnOptions, CallObserver } from "./node.ts";
export { NodeOptionsSchema, resolveNodeOptions } from "./config.ts";
export type { NodeOptionsInput, NodeOptionsResolved } from "./config.ts";
export type {
  ActorInstance,
  ActorClass,
  ActorContext,
  ActorLifecycleContext,
  ActorRef,
  ActionCall,
  ActionInterceptor,
  AskOptions,
  TellOptions,
  MessageOf,
  ReplyOf,
} from "./actor-types.ts";
export { systemClock } from "./clock.ts";
export type { Clock, TimerHandle } from "./clock.ts";
export { FakeClock } from "./fake-clock.ts";
export { Mailbox, MailboxLane } from "./mailbox.ts";
export type { MailboxOptions } from "./mailbox.ts";
export { PendingReplies } from "./pending-replies.ts";
export { NatsServer, findNatsServerBinary, freeLoopbackPort } from "./nats-server.ts";
export type { NatsServerOptions } from "./nats-server.ts";
export { NatsCluster } from "./nats-cluster.ts";
export type { NatsClusterOptions } from "./nats-cluster.ts";
export { Registry } from "./registry.ts";
export { ensureKvBucket, ensureStream, isTransientJetStreamError } from "./jetstream-provisioning.ts";
export type { ProvisionOptions } from "./jetstream-provisioning.ts";
export type { Claim, RegistryOptions } from "./registry.ts";
export { createStderrLogger, silentLogger, LogLevel } from "./logger.ts";
export type { Logger } from "./logger.ts";
export type { NodeEvent, NodeEventListener } from "./events.ts";
export { injectTraceContext, extractTraceContext } from "./tracing.ts";
export type { HeaderCarrier } from "./tracing.ts";
export { classifySchemaError } from "./schema-errors.ts";
export { startTelemetry } from "./telemetry.ts";
export type { Telemetry } from "./telemetry.ts";
export { LedgerStream } from "./ledger-stream.ts";
export type { LedgerStreamOptions } from "./ledger-stream.ts";
export { loadOrCreateSigningKey, saveSigningKey } from "./keys/key-file.ts";
export { KeyRegistry } from "./keys/key-registry.ts";
export type { KeyRegistryOptions } from "./keys/key-registry.ts";
export { KvEctStore, StoredEctRecord } from "./ect-store.ts";
export { Assurance, agentUri, networkAudience, hashValue } from "./assurance.ts";
export { AssuranceOptions, AssuranceProfile, AssuranceLevel, QuotaRule } from "./assurance-options.ts";
export type { AssuranceOptionsInput, AssuranceOptionsResolved } from "./assurance-options.ts";
export { LedgerClient } from "./ledger-client.ts";
export type { LedgerEntry, LedgerReceipt } from "./ledger-client.ts";
export { Quotas } from "./quotas.ts";
export type { ExecutionScope, ScopeToken, Usage } from "./execution-scope.ts";
export type { ActOptions, DeferredReply } from "./actor-types.ts";
export { rollUpUsage, UsageGrouping } from "./usage-report.ts";
export type { UsageRow } from "./usage-report.ts";
export { parseHeaderBlock, readInboundMeta, readMsgMeta, encodedHeaders, headerLine, isSafeHeaderValue } from "./wire-headers.ts";
export type { InboundMeta } from "./wire-headers.ts";
export { RollbackCoordinator } from "./rollback.ts";
export type { RollbackDeps } from "./rollback.ts";
export { StateStore } from "./state-store.ts";
export type { Checkpoint } from "./state-store.ts";
export { DurableLane } from "./durable-lane.ts";
export type { DurableLaneOptions, DurableAttachOptions } from "./durable-lane.ts";
export type { SendOptions } from "./actor-types.ts";
