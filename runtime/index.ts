export { Node } from "./node.ts";
export type { NodeDeps, SpawnOptions } from "./node.ts";
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
export type { Claim, RegistryOptions } from "./registry.ts";
export { createStderrLogger, silentLogger, LogLevel } from "./logger.ts";
export type { Logger } from "./logger.ts";
export type { NodeEvent, NodeEventListener } from "./events.ts";
export { injectTraceContext, extractTraceContext } from "./tracing.ts";
export type { HeaderCarrier } from "./tracing.ts";
export { classifySchemaError } from "./schema-errors.ts";
export { startTelemetry } from "./telemetry.ts";
export type { Telemetry } from "./telemetry.ts";
