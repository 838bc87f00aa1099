import type { NatsConnection } from "@nats-io/transport-node";
import {
  assertToken,
  isLeaseAlive,
  type ActorRecord,
  type EdgeReport,
  type FailureNotice,
  type NetworkSubjects,
  type NodeRecord,
  type CompensationRequest,
  type RollbackReport,
  type RollbackRequestInput,
  type BehaviourProfile,
  type BehaviourProfileInput,
} from "../protocols/index.ts";
import type { ActorClass, ActorInstance, ActorRef, MessageOf, ReplyOf } from "./actor/actor-types.ts";
import { Assurance } from "./assurance/assurance.ts";
import type { NodeRequest } from "./cluster/control-plane.ts";
import type { Governance } from "./cluster/governance.ts";
import { ControlSigner } from "./cluster/control-signer.ts";
import type { Discovery, FindOptions, Provider } from "./cluster/discovery.ts";
import type { OverrideGate } from "./hosting/override-gate.ts";
import type { HumanWork } from "./stores/human-work.ts";
import { migrate } from "./cluster/migration.ts";
import type { NatsServer } from "./embedded/nats-server.ts";
import { publishEdges, watchEdges } from "./messaging/edge-feed.ts";
import { watchFailures } from "./messaging/failure-feed.ts";
import type { CallObserver } from "./messaging/outbound.ts";
import { ACTIVE_CONTEXT } from "./messaging/ref.ts";
import type { NodeEventListener } from "./node-events.ts";
import { type NodeOptionsInput, type NodeOptionsResolved, type SpawnOptions } from "./node-options.ts";
import { runNodeRollback } from "./rollback/node-rollback.ts";
import type { BreakerBoard } from "./stores/breaker-board.ts";
import type { Clock, TimerHandle } from "./support/clock.ts";
import type { TetherMetrics } from "./telemetry/metrics.ts";
import { traced } from "./telemetry/tracing.ts";
import type { NodeDeps, Rooms } from "./node-assembly.ts";
import { bootRooms, shutDownRooms, startRooms } from "./node-lifecycle.ts";

export type { NodeDeps } from "./node-assembly.ts";

/**
 * A node: one NATS connection hosting actors. Create with `Node.create(options)`; dispose with
 * `await using node = …` or `await node.close()` (drains mailboxes, releases ownership, closes).
 *
 * This class only assembles the rooms of `runtime/` and exposes them: hosting (spawn, stop, pause,
 * passivation, checkpoints, durable delivery), messaging (refs, outbound, inbound, replies, dead
 * letters), cluster (lease, control plane, failover, migration), assurance and rollback.
 */
export class Node implements AsyncDisposable {
  readonly id: string;
  readonly network: string;
  readonly options: NodeOptionsResolved;
  readonly subjects: NetworkSubjects;
  readonly #r: Rooms;
  #heartbeat: TimerHandle | undefined;
  #closing: Promise<void> | undefined;

  private constructor(rooms: Rooms) {
    this.#r = rooms;
    this.id = rooms.core.id;
    this.network = rooms.core.network;
    this.options = rooms.core.options;
    this.subjects = rooms.core.subjects;
  }

  /**
   * Connects (or starts an embedded `nats-server` when `servers` is empty), opens the stores, registers
   * the node lease and starts its heartbeat.
   */
  static async create(input: NodeOptionsInput = {}, deps: NodeDeps = {}): Promise<Node> {
    const node = new Node(await bootRooms(input, deps));
    node.#heartbeat = startRooms(node.#r);
    return node;
  }

  /** The NATS server URL this node is connected to. */
  get url(): string {
    const server = this.#r.core.nc.getServer();
    return server.includes("://") ? server : `nats://${server}`;
  }

  /** The embedded server, when the node started one (no `servers` configured). */
  get embeddedServer(): NatsServer | undefined {
    return this.#r.server;
  }

  /** The node's lease epoch (increases on every start of the same node id). */
  get epoch(): number {
    return this.#r.lease.epoch;
  }

  /** The assurance engine: profile, key registry (rotate, revoke), ECT store, ledger client. */
  get assurance(): Assurance {
    return this.#r.assurance;
  }

  /** The network's members and policy as this node enforces them (verified on read). */
  get governance(): Governance {
    return this.#r.governance;
  }

  /** Installs (or removes) the ask observer after creation (see `NodeDeps.callObserver`). */
  observeCalls(observer: CallObserver | undefined): void {
    this.#r.outbound.callObserver = observer;
  }

  /** Tether's OpenTelemetry instruments; supervisors record restarts and breaker states through it. */
  get metrics(): TetherMetrics {
    return this.#r.core.metrics;
  }

  /** The clock the node runs on (injected, or the system clock). */
  get clock(): Clock {
    return this.#r.core.clock;
  }

  /** The node's NATS connection, for built-in actors that need JetStream (e.g. the audit ledger). */
  get nats(): NatsConnection {
    return this.#r.core.nc;
  }

  /** Ids of the actors hosted here. */
  localActors(): string[] {
    return this.#r.directory.ids();
  }

  /** Ids of the local actors that are passivated now. */
  passivatedActors(): string[] {
    return [...this.#r.directory.cells.values()].filter((c) => c.passivated).map((c) => c.id);
  }

  /** Where an actor lives now: its registry record and whether its node's lease is alive. */
  async whereIs(actorId: string): Promise<{ record: ActorRecord; alive: boolean } | undefined> {
    const { registry, core } = this.#r;
    const record = await registry.getActor(assertToken("actor id", actorId));
    if (record === undefined) return undefined;
    const owner = await registry.getNode(record.nodeId);
    const alive = owner !== undefined && owner.epoch === record.nodeEpoch && isLeaseAlive(owner, core.clock.now());
    return { record, alive };
  }

  /** Whether a node's lease is alive now. */
  async isNodeAlive(nodeId: string): Promise<boolean> {
    const n = await this.#r.registry.getNode(assertToken("node id", nodeId));
    return n !== undefined && isLeaseAlive(n, this.#r.core.clock.now());
  }

  /**
   * Signs a control request (activate a registered type, stop or pause an actor, publish or revoke a
   * key) and sends it to a node, waiting for its answer; a refusal rejects with the remote error
   * (e.g. ERR_CONTROL_FORBIDDEN), silence with ERR_NODE_UNREACHABLE. It is signed with this node's key
   * unless `options.signer` is given (a person's key: `ControlSigner.fromKeyFile`).
   */
  async controlNode(nodeId: string, request: NodeRequest, timeoutMs = 10_000, options: { signer?: ControlSigner } = {}): Promise<void> {
    await this.#r.control.request(nodeId, request, timeoutMs, options.signer);
  }

  /**
   * The node side of the override plane (human oversight): the active overrides this node applies,
   * fencing, acknowledgements. Issue signals through the override actor (`OverrideClient`).
   */
  get overrides(): OverrideGate {
    return this.#r.overrides;
  }

  /** The human work queue a `takeover` fills (JetStream). */
  get humanWork(): HumanWork {
    return this.#r.humanWork;
  }

  /** Signs control messages with this node's key (role `node`; see `ControlRoles`). */
  get controlSigner(): ControlSigner {
    return this.#r.signer;
  }

  /**
   * Checks the signed grant of a compensation request (see `ControlGuard.verifyCompensation`); a
   * refusal is recorded as a violation and thrown with its ERR_CONTROL_* code.
   */
  verifyCompensation(grant: unknown, actorId: string, request: CompensationRequest): Promise<void> {
    return this.#r.verifyCompensation(grant, actorId, request);
  }

  /**
   * Pauses (quarantines) a local actor for `ms`: new messages are refused at once with
   * ERR_ACTOR_PAUSED (retryable: callers fail fast or fall back), durable ones wait in JetStream.
   * What is already queued is handled. `ms` 0 resumes it.
   */
  pauseActor(id: string, ms: number): void {
    this.#r.host.pause(id, ms);
  }

  /**
   * Narrows an actor's behavioural profile on this node at run time, without restarting it: the
   * partial profile is one more layer every action and message must also pass, so it can only take
   * permissions away. Returns the layer as parsed (defaults filled in).
   */
  constrainActor(actorId: string, partial: BehaviourProfileInput): BehaviourProfile {
    assertToken("actor id", actorId);
    return this.#r.profiles.constrain(actorId, partial);
  }

  /** Saves a local actor's state now (as `ctx.checkpoint()` does from inside it). */
  checkpoint(id: string): Promise<number> {
    try {
      return this.#r.checkpoints.save(this.#r.host.local(id));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Declares which actor classes this node can host when another node dies (failover) with the
   * constructor arguments and options to use. `tether node start` registers every agent of its module.
   */
  registerType<C extends ActorClass>(actorClass: C, options: Omit<SpawnOptions<C>, "restore"> = {}): void {
    this.#r.types.register(actorClass, options as SpawnOptions<ActorClass>);
  }

  /** Every actor of the network, as recorded in the registry. */
  listActors(): Promise<ActorRecord[]> {
    return this.#r.registry.listActors();
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.#r.registry.listNodes();
  }

  onEvent(listener: NodeEventListener): () => void {
    return this.#r.core.onEvent(listener);
  }

  /**
   * Handler failures of these actors, wherever they run (at-most-once notices; see
   * `messaging/failure-feed.ts`). Returns a function that stops listening. Supervisors use this port.
   */
  watchFailures(actorIds: readonly string[], listener: (notice: FailureNotice) => void): () => void {
    return watchFailures(this.#r.core, actorIds, listener);
  }

  /** Publishes this node's cascade edge statistics (see `messaging/edge-feed.ts`). */
  publishEdges(report: EdgeReport): void {
    publishEdges(this.#r.core, report);
  }

  /** Listens to every node's cascade edge statistics; returns a function that stops listening. */
  watchEdges(listener: (report: EdgeReport) => void): () => void {
    return watchEdges(this.#r.core, listener);
  }

  /** The network's shared circuit-breaker states (opened on first use, then shared by callers on this node). */
  breakerBoard(): Promise<BreakerBoard> {
    return this.#r.breakerBoard();
  }

  /** Capability discovery (see `cluster/discovery.ts`, docs/capabilities.md). */
  get discovery(): Discovery {
    return this.#r.discovery;
  }

  /** Live providers of a capability, highest trust first (scored when `options.trust` is given). */
  find(capability: string, options: FindOptions = {}): Promise<Provider[]> {
    return this.discovery.find(capability, options);
  }

  /** A ref to one provider of a capability: trust-weighted, breaker not open; ERR_NO_PROVIDER when none qualifies. */
  async refByCapability<C extends ActorClass = ActorClass>(capability: string, options: FindOptions = {}): Promise<ActorRef<MessageOf<C>, ReplyOf<C>>> {
    return this.ref<C>((await this.discovery.pick(capability, options)).actorId);
  }

  /** The highest common version of `protocol` two agents advertise; ERR_VERSION_NEGOTIATION_FAILED naming both offers. */
  negotiate(localActorId: string, peerActorId: string, protocol: string): Promise<string> {
    return this.discovery.negotiate(assertToken("actor id", localActorId), assertToken("actor id", peerActorId), protocol);
  }

  /** Waits for dead-letter writes in flight to be stored. */
  flushDeadLetters(): Promise<void> {
    return this.#r.sink.flush();
  }

  /**
   * Starts an actor with this id on this node. The id is claimed in the registry first: if a live node
   * owns it (here or elsewhere), this throws ERR_ACTOR_ALREADY_ACTIVE and nothing starts.
   */
  async spawn<C extends ActorClass>(id: string, actorClass: C, options: SpawnOptions<C> = {}): Promise<ActorRef<MessageOf<C>, ReplyOf<C>>> {
    assertToken("actor id", id);
    await this.#r.host.spawn(id, actorClass, () => new actorClass(...((options.args ?? []) as unknown[])), options as SpawnOptions<ActorClass>);
    return this.ref(id) as ActorRef<MessageOf<C>, ReplyOf<C>>;
  }

  /** Like `spawn`, with an instance made by the caller (a supervisor child's `start()`); its class gives the protocol. */
  async spawnInstance(id: string, instance: object, options: Omit<SpawnOptions<ActorClass>, "args"> = {}): Promise<ActorRef> {
    assertToken("actor id", id);
    const actorClass = (instance as { constructor?: unknown }).constructor as ActorClass;
    await this.#r.host.spawn(id, actorClass, () => instance as ActorInstance, options);
    return this.ref(id);
  }

  /** Stops one local actor: no new messages, drains its mailbox (bounded), runs onStop, releases its id. */
  async stopActor(id: string): Promise<void> {
    const { host } = this.#r;
    await host.stop([host.local(id)]);
  }

  /** A ref to an actor anywhere in the network, by id alone. */
  ref<C extends ActorClass = ActorClass>(id: string): ActorRef<MessageOf<C>, ReplyOf<C>> {
    assertToken("actor id", id);
    return this.#r.outbound.ref(id, this.#r.core.self, ACTIVE_CONTEXT, undefined) as ActorRef<MessageOf<C>, ReplyOf<C>>;
  }

  /**
   * Moves a local actor to another node, keeping its id and state (see `cluster/migration.ts`). If the
   * target refuses, the actor is re-activated here.
   */
  migrate(id: string, toNode: string, options: { timeoutMs?: number } = {}): Promise<void> {
    return migrate(this.#r, id, toNode, options.timeoutMs ?? 10_000);
  }

  /**
   * Rolls back a workflow, or one action and everything it caused: runs each compensable action's
   * compensation on its actor (wherever it lives) in reverse topological order, retrying and then
   * escalating a compensation that keeps failing. See `RollbackCoordinator`.
   */
  rollback(request: RollbackRequestInput): Promise<RollbackReport> {
    const { core, assurance, outbound, signer } = this.#r;
    core.assertRunning();
    return this.traced("rollback", { "tether.workflow.id": String(request.workflow), ...(request.from === undefined ? {} : { "tether.rollback.from": request.from }) }, () =>
      runNodeRollback(request, core, assurance, outbound, signer),
    );
  }

  /**
   * Runs `work` inside an internal span named `name` (a child of the active context), ended with its
   * outcome. Supervisors trace their restarts through this port. Costs nothing without an OTel SDK.
   */
  traced<T>(name: string, attributes: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T> {
    return traced(this.#r.core.tracing, name, attributes, work);
  }

  /**
   * Graceful shutdown: stop accepting messages, drain mailboxes within `shutdownTimeoutMs` (the rest is
   * rejected and dead-lettered), run onStop hooks, release ownership, remove the node lease, close the
   * connection, and stop the embedded server. Safe to call twice.
   */
  close(): Promise<void> {
    const closing = this.#closing ?? shutDownRooms(this.#r, this.#heartbeat);
    this.#closing = closing;
    return closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
