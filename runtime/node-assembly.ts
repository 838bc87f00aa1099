// How a node is put together from its rooms: the connection, and every room wired to the others.
import { mintOverrideEct } from "./assurance/override-evidence.ts";
import type { MeterProvider, TextMapPropagator, TracerProvider } from "@opentelemetry/api";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { TetherError, type NodeRecord, type OverrideConstraints } from "../protocols/index.ts";
import type { ActionInterceptor } from "./actor/actor-types.ts";
import type { ProfileGuard } from "./assurance/profile-guard.ts";
import { Assurance } from "./assurance/assurance.ts";
import { ControlGuard } from "./cluster/control-guard.ts";
import { ControlPlane } from "./cluster/control-plane.ts";
import { ControlSigner } from "./cluster/control-signer.ts";
import { Discovery, negotiateAgents } from "./cluster/discovery.ts";
import { BreakerBoard } from "./stores/breaker-board.ts";
import { Failover } from "./cluster/failover.ts";
import { Governance } from "./cluster/governance.ts";
import { Lease } from "./cluster/lease.ts";
import { credentialsAuthenticator } from "./embedded/credentials.ts";
import { NatsServer } from "./embedded/nats-server.ts";
import { ActorHost } from "./hosting/actor-host.ts";
import { CellDirectory } from "./hosting/cell-directory.ts";
import { CellRuntime, type VerifyCompensation } from "./hosting/cell-runtime.ts";
import { Checkpoints } from "./hosting/checkpoints.ts";
import { DurableDelivery } from "./hosting/durable-delivery.ts";
import { Passivation } from "./hosting/passivation.ts";
import { RegisteredTypes } from "./hosting/registered-types.ts";
import { OverrideApplier } from "./hosting/override-apply.ts";
import { OverrideGate } from "./hosting/override-gate.ts";
import { constraintLink } from "./interceptors/constraint-link.ts";
import { HumanWork } from "./stores/human-work.ts";
import { OverrideStore } from "./stores/override-store.ts";
import { composeActionChain } from "./interceptors/action-chain.ts";
import { assuranceLinks } from "./interceptors/assurance-links.ts";
import { profileLink } from "./interceptors/profile-link.ts";
import { traceLink } from "./interceptors/trace-link.ts";
import { DeadLetterSink } from "./messaging/dead-letter-sink.ts";
import { Inbound } from "./messaging/inbound.ts";
import { Outbound, type CallObserver } from "./messaging/outbound.ts";
import { profiledRefs } from "./messaging/profiled-ref.ts";
import { ACTIVE_CONTEXT } from "./messaging/ref.ts";
import { Replies } from "./messaging/replies.ts";
import { TellFlow } from "./messaging/tell-flow.ts";
import { NodeCore } from "./node-core.ts";
import { openProfiles, type ViolationPorts } from "./node-profiles.ts";
import { type NodeOptionsResolved } from "./node-options.ts";
import { DeadLetters } from "./stores/dead-letters.ts";
import { DurableLane } from "./stores/durable-lane.ts";
import { Registry } from "./stores/registry.ts";
import { StateStore } from "./stores/state-store.ts";
import { type Clock } from "./support/clock.ts";
import { natsConnectError, natsTlsConnectOptions } from "./support/nats-tls.ts";
import type { Logger } from "./support/logger.ts";

/** Collaborators a node uses; everything is optional and passed explicitly (no globals). */
export interface NodeDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * TracerProvider for Tether's spans; default the global one (`trace.getTracerProvider()`), so an
   * application that registered the OTel SDK gets spans with no wiring. With the API's no-op
   * provider, tracing allocates nothing on the message path.
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * MeterProvider for Tether's metrics (`docs/observability.md`); default the global one
   * (`metrics.getMeterProvider()`), read once when the node is created: register the SDK first.
   */
  readonly meterProvider?: MeterProvider;
  /** Propagator for NATS headers; default the global one (`propagation`, set by the SDK from `OTEL_PROPAGATORS`). */
  readonly propagator?: TextMapPropagator;
  /** Interceptors on `ctx.act`, outermost first (inside the assurance link). */
  readonly actionInterceptors?: readonly ActionInterceptor[];
  /** Path of the nats-server binary for the embedded default. */
  readonly natsServerBinary?: string;
  /** Randomness (failover jitter); default Math.random. Inject a seeded one in tests. */
  readonly random?: () => number;
  /**
   * Sees the outcome of every ask this node makes (caller → target, duration, error code): the input of
   * cascade detection (`CascadeMonitor.observe`). Absent by default, and then it costs nothing.
   */
  readonly callObserver?: CallObserver;
  /** Where `quarantine` and `escalate` responses to profile violations go (default: pause; a ledger event). */
  readonly violationPorts?: ViolationPorts;
}


/** The rooms of one node, assembled once by `Node.create` (see `assemble`). */
export interface Rooms {
  readonly core: NodeCore;
  readonly server: NatsServer | undefined;
  readonly registry: Registry;
  readonly directory: CellDirectory;
  readonly types: RegisteredTypes;
  readonly sink: DeadLetterSink;
  readonly replies: Replies;
  readonly flow: TellFlow;
  readonly lease: Lease;
  readonly checkpoints: Checkpoints;
  readonly outbound: Outbound;
  readonly host: ActorHost;
  readonly control: ControlPlane;
  readonly guard: ControlGuard;
  readonly signer: ControlSigner;
  readonly failover: Failover;
  readonly assurance: Assurance;
  readonly governance: Governance;
  readonly verifyCompensation: VerifyCompensation;
  readonly overrides: OverrideGate;
  readonly humanWork: HumanWork;
  readonly profiles: ProfileGuard;
  /** The network's shared circuit-breaker states, opened on first use (a failed open is tried again). */
  readonly breakerBoard: () => Promise<BreakerBoard>;
  readonly discovery: Discovery;
}

export const connectNats = async (options: NodeOptionsResolved, nodeId: string, server: NatsServer | undefined): Promise<NatsConnection> => {
  const servers = server === undefined ? options.servers : [server.url];
  try {
    const auth = options.credentials === undefined ? {} : { authenticator: credentialsAuthenticator(options.credentials) };
    return await connect({
      ...auth,
      servers,
      ...natsTlsConnectOptions(options.tls, servers),
      name: `tether-${options.network}-${nodeId}`,
      reconnectTimeWait: options.reconnectTimeWaitMs,
      reconnectJitter: options.reconnectJitterMs,
      maxReconnectAttempts: -1,
      pingInterval: 10_000,
      // JetStream/KV requests otherwise build two stack-capturing errors each (6-14% of CPU measured)
      noAsyncTraces: true,
    });
  } catch (cause) {
    await server?.stop();
    throw natsConnectError(cause, servers, natsTlsConnectOptions(options.tls, servers).tls);
  }
};

/**
 * Wires the rooms together. Two links are late-bound because they point back at the host: a lost
 * claim (lease) and a refused checkpoint both fence the local copy through `host.fence`.
 */
export const assemble = async (
  core: NodeCore,
  server: NatsServer | undefined,
  registry: Registry,
  deadLetters: DeadLetters,
  states: StateStore,
  lane: DurableLane,
  record: NodeRecord,
  deps: NodeDeps,
): Promise<Rooms> => {
  const directory = new CellDirectory();
  const types = new RegisteredTypes();
  const sink = new DeadLetterSink(core, deadLetters);
  const flow = new TellFlow(core);
  const replies = new Replies(core, sink, flow, (id) => claimedByLiveOrLatelyDead(registry, core.clock, id));
  const lease = new Lease(core, registry, directory, record);
  const checkpoints = new Checkpoints(core, states, directory, () => lease.ensure());
  const durable = new DurableDelivery(core, lane, checkpoints, sink);
  const passivation = new Passivation(core, directory, checkpoints);
  const outbound = new Outbound(core, (id) => directory.live(id), replies, sink, lane, flow, deps.callObserver);
  const assurance = await Assurance.open({
    nc: core.nc,
    subjects: core.subjects,
    nodeId: core.id,
    options: core.options.assurance,
    replicas: core.options.jetstreamReplicas,
    ectMaxAgeMs: core.options.ectMaxAgeMs,
    storage: core.options.storage,
    clock: core.clock,
    logger: core.logger,
    ledgerRef: outbound.ref(core.options.assurance.ledger.actorId, core.self, ACTIVE_CONTEXT, undefined),
    metrics: core.metrics,
  });
  core.metrics.observeActors(() => directory.cells.values());
  outbound.binder = (token, id, target, data) => assurance.bind(token, id, target, data);
  durable.verify = (m) => assurance.verifyIncoming(m);
  durable.requiresToken = assurance.requiresToken;
  const governance = await openGovernance(core, assurance);
  const guard = new ControlGuard({ core, keys: assurance.keys, recordEvent: (event, subject, details) => assurance.recordEvent(event, subject, details), membership: (signer) => governance.mayAct(signer) });
  const signer = new ControlSigner({ key: () => assurance.controlKey, network: core.network, clock: core.clock });
  const constraintsOf = (actorId: string) => directory.get(actorId)?.constraints as OverrideConstraints | undefined;
  const inbound = new Inbound(core, replies, sink, (m) => assurance.verifyIncoming(m), assurance.requiresToken);
  // the host is assembled below; a quarantine only runs once it exists
  const profiles = openProfiles(core, assurance, directory, (id, ms) => host.pause(id, ms), deps.violationPorts);
  const act = composeActionChain([traceLink(core.tracing), constraintLink(constraintsOf, core.clock), profileLink(profiles), ...assuranceLinks(assurance, { network: core.network, nodeId: core.id, clock: core.clock, logger: core.logger }), ...(deps.actionInterceptors ?? [])]);
  const verifyCompensation: VerifyCompensation = async (grant, actorId, request) => {
    try {
      await guard.verifyCompensation(grant, actorId, request);
    } catch (error) {
      throw guard.refused(error, actorId, { jti: request.jti });
    }
  };
  const refs = profiledRefs(profiles, (id, from, trace, scope) => outbound.ref(id, from, trace, scope));
  let breakers: Promise<BreakerBoard> | undefined;
  const breakerBoard = (): Promise<BreakerBoard> => {
    breakers ??= BreakerBoard.open(core.nc, core.subjects, { replicas: core.options.jetstreamReplicas, maxBytes: core.options.storage.breakersMb * 1024 * 1024 }).catch((error: unknown) => {
      breakers = undefined; // a later call tries again
      throw error;
    });
    return breakers;
  };
  const discovery = new Discovery({ registry, clock: core.clock, breakers: breakerBoard, random: core.random });
  const runtime = new CellRuntime({
    core,
    directory,
    lease,
    replies,
    flow,
    durable,
    passivation,
    checkpoints,
    outbound: { ref: refs },
    act,
    verifyCompensation,
    negotiate: (self, peer, protocol) => negotiateAgents(registry, self, peer, protocol),
    pickProvider: async (capability, query) => (await discovery.pick(capability, query)).actorId,
  });
  const host = new ActorHost({ core, directory, registry, checkpoints, durable, passivation, inbound, runtime, sink, epoch: () => lease.epoch, admit: (id, type, caps) => governance.admit(id, type, caps) });
  const replicas = core.options.jetstreamReplicas;
  const mb = 1024 * 1024;
  const humanWork = await HumanWork.open(core.nc, core.network, { replicas, logger: core.logger, maxBytes: core.options.storage.humanWorkMb * mb });
  const applier = new OverrideApplier({ core, runtime, sink, work: (task) => humanWork.push(task) });
  const overrides = new OverrideGate({
    core,
    directory,
    store: await OverrideStore.open(core.nc, core.network, { replicas, maxBytes: core.options.storage.overridesMb * mb }),
    keys: assurance.keys,
    refuse: (error, target, extra) => guard.refused(error, target, extra),
    recordEvent: (event, subject, details) => assurance.recordEvent(event, subject, details),
    applier,
    exempt: [core.options.assurance.ledger.actorId],
    mint: (e) =>
      mintOverrideEct({ network: core.network, nodeId: core.id, level: assurance.level, signingKey: () => assurance.signingKey, tokenTtlSeconds: assurance.options.tokenTtlSeconds, store: assurance.store, clock: core.clock, ledger: assurance.ledger, logger: core.logger }, e),
  });
  applier.takenOver.verify = (envelope) => overrides.verifyTaskResult(envelope);
  await overrides.open(); // before anything is hosted: fencing
  host.onActivate = (cell) => overrides.admit(cell);
  lease.onClaimLost = (cell, reason) => host.fence(cell, reason);
  checkpoints.onFenced = (cell, reason) => void host.fence(cell, reason);
  const activate = async (actorId: string, className: string, fresh: boolean) => {
    const type = types.get(className);
    if (type === undefined) throw new TetherError("ERR_ACTOR_CLASS_INVALID", `node ${core.id} has no registered type ${className}`);
    const { actorClass, options } = type;
    await host.spawn(actorId, actorClass, () => new actorClass(...((options.args ?? []) as unknown[])), fresh ? { ...options } : { ...options, restore: true });
  };
  const control = new ControlPlane({ core, directory, registry, types, host, replies, activate, guard, signer, assurance, governance });
  const failover = new Failover(core, registry, directory, types, control, async (actorId, className) => {
    await activate(actorId, className, false);
    return "started";
  });
  return { core, server, registry, directory, types, sink, replies, flow, lease, checkpoints, outbound, host, control, guard, signer, failover, assurance, governance, verifyCompensation, overrides, humanWork, profiles, breakerBoard, discovery };
};

/**
 * The network's members and policy; a node whose profile is below the policy's minimum does not start
 * (ERR_POLICY_PROFILE_TOO_LOW, recorded), and gives back the key it published.
 */
const openGovernance = async (core: NodeCore, assurance: Assurance): Promise<Governance> => {
  const recordEvent = (event: string, subject: string, details: Record<string, unknown>) => assurance.recordEvent(event, subject, details);
  let governance: Governance | undefined;
  try {
    governance = await Governance.open({ core, keys: assurance.keys, signingKey: () => assurance.controlKey, recordEvent });
    await governance.assertProfile(core.options.assurance.profile);
    return governance;
  } catch (error) {
    governance?.close();
    await assurance.release().catch(() => undefined);
    assurance.close();
    throw error;
  }
};

/**
 * Whether an actor is claimed by a node that is alive, or whose lease ran out lately enough (three
 * leases and 10 s) that a survivor may still take it over: asks to it are worth sending again.
 */
const claimedByLiveOrLatelyDead = async (registry: Registry, clock: NodeCore["clock"], actorId: string): Promise<boolean> => {
  const record = await registry.getActor(actorId);
  if (record === undefined) return false;
  const owner = await registry.getNode(record.nodeId);
  if (owner === undefined) return false;
  return clock.now() <= owner.heartbeatAt + owner.leaseTtlMs * 3 + 10_000;
};
