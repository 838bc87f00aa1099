// Supervision trees as data, restart planning, circuit breakers, bulkheads and priority admission (issue #3).
export {
  ExponentialBackoff,
  ConstantBackoff,
  BackoffPolicy,
  exponentialBackoff,
  constantBackoff,
  backoffDelay,
} from "./backoff.ts";
export type { BackoffPolicyInput, ExponentialBackoffInput, ConstantBackoffInput } from "./backoff.ts";
export { RestartIntensity, RestartIntensityOptions, IntensityVerdict } from "./restart-intensity.ts";
export type { RestartIntensityOptionsInput } from "./restart-intensity.ts";
export {
  defineSupervisor,
  SupervisorSpecSchema,
  WorkerChildSpec,
  Strategy,
  RestartType,
  FailureMode,
  DEFAULT_BACKOFF,
} from "./supervisor-spec.ts";
export type { SupervisorSpec, SupervisorSpecInput, ChildSpec, WorkerChildSpecInput } from "./supervisor-spec.ts";
export { planRestart, shouldRestart, ExitReason } from "./restart-plan.ts";
export type { RestartPlan } from "./restart-plan.ts";
export {
  CircuitBreaker,
  CircuitBreakerOptions,
  BreakerState,
  BreakerTransitionReason,
  BreakerSnapshot,
  compareBreakerSnapshots,
  withBreaker,
} from "./circuit-breaker.ts";
export type {
  CircuitBreakerOptionsInput,
  BreakerTransition,
  BreakerTransitionListener,
  BreakerPermit,
  BreakerAcquire,
  WithBreakerOptions,
} from "./circuit-breaker.ts";
export { Bulkhead, BulkheadOptions } from "./bulkhead.ts";
export type { BulkheadOptionsInput, BulkheadAcquireOptions } from "./bulkhead.ts";
export { AdmissionPool, AdmissionPoolOptions, PoolClass } from "./admission-pool.ts";
export type { AdmissionPoolOptionsInput, PoolClassInput, PoolStats, PoolClassStats } from "./admission-pool.ts";
export type { Release, AcquireOptions } from "./waiter.ts";
export { Supervisor } from "./supervisor.ts";
export type { SupervisorEvent } from "./supervisor-events.ts";
export { SupervisionHost, SupervisionOptions } from "./supervision-host.ts";
export type { SupervisorOptions } from "./supervision-host.ts";
export { SupervisorActor } from "./supervisor-actor.ts";
export type { SupervisorActorDeps, ResolvedSupervisor } from "./supervisor-deps.ts";
export { nodeSupervisionPort } from "./supervision-port.ts";
export type { SupervisionPort } from "./supervision-port.ts";
export { GuardedCalls, isGuardRefusal } from "./guarded-calls.ts";
export type { GuardOptions } from "./guarded-calls.ts";
export { CascadeMonitor } from "./cascade-monitor.ts";
export { CascadeMonitorOptions } from "./cascade-options.ts";
export type { CascadeEvent, CascadeMonitorOptionsInput } from "./cascade-options.ts";
export { CascadeMonitorActor } from "./cascade-monitor-actor.ts";
