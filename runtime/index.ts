// The public API of runtime/: what applications, actors/, supervisors/ and cli/ use. Internals that
// tests need are exported from ./internal.ts instead (as nats.js separates mod.ts and internal_mod.ts).
export { Node } from "./node.ts";
export type { NodeDeps } from "./node.ts";
export type { CallObserver } from "./messaging/outbound.ts";
export { NodeOptionsSchema, resolveNodeOptions, SpawnOptionsSchema } from "./node-options.ts";
export type { SpawnOptions } from "./node-options.ts";
export type { NodeOptionsInput, NodeOptionsResolved } from "./node-options.ts";
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
} from "./actor/actor-types.ts";
export { systemClock, withTimeout } from "./support/clock.ts";
export type { Clock, TimerHandle } from "./support/clock.ts";
export { FakeClock } from "./support/fake-clock.ts";
export { NatsServer, findNatsServerBinary, freeLoopbackPort } from "./embedded/nats-server.ts";
export type { NatsServerOptions } from "./embedded/nats-server.ts";
export { NatsCluster } from "./embedded/nats-cluster.ts";
export { NetworkAccounts, CLUSTER_ACCOUNT, DEFAULT_NETWORK_STORAGE_MB } from "./embedded/network-accounts.ts";
export type { NetworkInfo, CreateNetworkOptions } from "./embedded/network-accounts.ts";
export { IDENTITY_ROLES, permissionsFor } from "./embedded/account-permissions.ts";
export type { IdentityRole, SubjectPermissions } from "./embedded/account-permissions.ts";
export { credentialsAuthenticator, formatCredentials } from "./embedded/credentials.ts";
export { runningCluster, reloadCluster } from "./embedded/cluster-accounts.ts";
export type { ClusterState } from "./embedded/cluster-accounts.ts";
export type { NatsClusterOptions } from "./embedded/nats-cluster.ts";
export { createDevCertificates, issueCertificate, findOpenssl } from "./embedded/dev-certificates.ts";
export type { CertificatePair, DevCertificates, DevCertificateOptions, IssueOptions, CertificateUsage } from "./embedded/dev-certificates.ts";
export { isLoopbackHost, listenerSecurity } from "./embedded/cluster-tls.ts";
export type { ClusterTlsFiles, ListenerSecurity } from "./embedded/cluster-tls.ts";
export { NatsTlsOptions, natsTlsConnectOptions, natsConnectError, classifyTlsFailure, TlsFailure } from "./support/nats-tls.ts";
export { Registry } from "./stores/registry.ts";
export type { Claim, RegistryOptions } from "./stores/registry.ts";
export { createStderrLogger, silentLogger, LogLevel } from "./support/logger.ts";
export type { Logger } from "./support/logger.ts";
export type { NodeEvent, NodeEventListener } from "./node-events.ts";
export { injectTraceContext, extractTraceContext } from "./telemetry/tracing.ts";
export type { HeaderCarrier } from "./telemetry/tracing.ts";
export { TetherMetrics, MetricNames, BreakerStateValue } from "./telemetry/metrics.ts";
export type { MessageKind, BreakerStateName, ObservedActor, ObservedBreaker } from "./telemetry/metrics.ts";
export type { BreakerBoard } from "./stores/breaker-board.ts";
export { LedgerStream } from "./stores/ledger-stream.ts";
export type { LedgerStreamOptions, LedgerAnchor, LedgerAppendOptions, LedgerReadOptions } from "./stores/ledger-stream.ts";
export { fetchStream, type FetchedMessage } from "./stores/stream-fetch.ts";
export { loadOrCreateSigningKey, loadSigningKey, saveSigningKey } from "./assurance/key-file.ts";
export { ControlSigner } from "./cluster/control-signer.ts";
export { Discovery, negotiate, negotiateAgents, rankProviders, pickWeighted } from "./cluster/discovery.ts";
export type { TrustScorer, Provider, FindOptions, DiscoveryDeps } from "./cluster/discovery.ts";
export type { CapabilityQuery } from "./actor/actor-types.ts";
export { sendControl, findLiveNode } from "./cluster/control-client.ts";
export type { ControlSignerOptions } from "./cluster/control-signer.ts";
export type { NodeRequest } from "./cluster/control-plane.ts";
export type { KeyActor } from "./assurance/assurance.ts";
export { KeyRegistry } from "./stores/key-registry.ts";
export { GovernanceStore, historicKeys } from "./stores/governance-store.ts";
export type { GovernanceStoreOptions } from "./stores/governance-store.ts";
export type { Governance, GovernanceAnswer } from "./cluster/governance.ts";
export type { KeyRegistryOptions } from "./stores/key-registry.ts";
export { KvEctStore, StoredEctRecord } from "./stores/ect-store.ts";
export { Assurance } from "./assurance/assurance.ts";
export { agentUri, networkAudience, hashValue } from "./assurance/identity.ts";
export { AssuranceOptions, AssuranceProfile, QuotaRule } from "./assurance/assurance-options.ts";
export type { AssuranceOptionsInput, AssuranceOptionsResolved } from "./assurance/assurance-options.ts";
export { LedgerClient } from "./assurance/ledger-client.ts";
export { ProfileGuard } from "./assurance/profile-guard.ts";
export type { OnViolation, ViolationNotice, ProfileGuardDeps } from "./assurance/profile-guard.ts";
export { PROFILE_VIOLATION_ACT } from "./assurance/violation-evidence.ts";
export { OVERRIDE_ACK_ACT, OVERRIDE_SIGNAL_ACT, overrideSignalJti } from "./assurance/override-evidence.ts";
export { profileLink } from "./interceptors/profile-link.ts";
export type { ViolationPorts } from "./node-profiles.ts";
export type { LedgerEntry, LedgerReceipt } from "./assurance/ledger-client.ts";
export type { ExecutionScope, ScopeToken, Usage } from "./actor/execution-scope.ts";
export type { ActOptions, DeferredReply } from "./actor/actor-types.ts";
export { rollUpUsage, UsageGrouping } from "./assurance/usage-report.ts";
export type { UsageRow } from "./assurance/usage-report.ts";
export type { SendOptions } from "./actor/actor-types.ts";
export type { OverrideGate } from "./hosting/override-gate.ts";
export { OverrideStore } from "./stores/override-store.ts";
export { HumanWork } from "./stores/human-work.ts";
export type { OverrideNotice, OverrideDecision } from "./actor/actor-types.ts";
export { approvalLink } from "./interceptors/approval-link.ts";
export type { ApprovalLinkOptions, ApprovalPort } from "./interceptors/approval-link.ts";
