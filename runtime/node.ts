import { context as otelContext, type Context, type TracerProvider } from "@opentelemetry/api";
import { connect, headers as natsHeaders, nuid, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import {
  CompensationRequest,
  ErrorReply,
  ActivateRequest,
  FailureNotice,
  NodeControl,
  type StopRequest,
  type PauseRequest,
  HeaderNames,
  TetherError,
  assertToken,
  decodeBody,
  encodeBody,
  errorFromWire,
  hasCode,
  isLeaseAlive,
  isTetherError,
  messageTypeOf,
  networkSubjects,
  type DeadLetterRecord,
  type ErrorCode,
  type NetworkSubjects,
  type NodeRecord,
  type ActorRecord,
  type RollbackReport,
  type RollbackRequestInput,
} from "../protocols/index.ts";
import { ActorCell, type CellHost, type Delivery, type ReplyOutcome } from "./actor/actor-cell.ts";
import { RollbackCoordinator } from "./rollback/rollback-coordinator.ts";
import { StateStore } from "./stores/state-store.ts";
import { DurableLane } from "./stores/durable-lane.ts";
import type { JsMsg } from "@nats-io/jetstream";
import { Assurance } from "./assurance/assurance.ts";
import { outgoingToken, type ExecutionScope, type ScopeToken } from "./actor/execution-scope.ts";
import type {
  ActionCall,
  ActionInterceptor,
  ActorClass,
  ActorInstance,
  ActorLifecycleContext,
  ActorRef,
  AskOptions,
  MessageOf,
  ReplyOf,
  SendOptions,
  TellOptions,
} from "./actor/actor-types.ts";
import { systemClock, type Clock, type TimerHandle } from "./support/clock.ts";
import { resolveNodeOptions, type NodeOptionsInput, type NodeOptionsResolved } from "./node-options.ts";
import { DeadLetters } from "./stores/dead-letters.ts";
import type { NodeEvent, NodeEventListener } from "./node-events.ts";
import { createStderrLogger, type Logger } from "./support/logger.ts";
import { Mailbox } from "./actor/mailbox.ts";
import { NatsServer } from "./embedded/nats-server.ts";
import { PendingReplies } from "./messaging/pending-replies.ts";
import { Registry, type Claim } from "./stores/registry.ts";
import { Tracing, contextFromTraceparent, contextWithSpan, endSpan, traceHeaderLines } from "./telemetry/tracing.ts";
import { HandlerContext, type ContextHost } from "./actor/handler-context.ts";
import { REPLY_HEADERS, encodedHeaders, errorHeaders, isSafeHeaderValue, readInboundMeta, readMsgMeta, type InboundMeta } from "./messaging/wire-headers.ts";
import { classifySchemaError } from "./messaging/schema-errors.ts";

/** Collaborators a node uses; everything is optional and passed explicitly (no globals). */
export interface NodeDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Enables OpenTelemetry spans for send, receive and handle. Without it, tracing costs nothing. */
  readonly tracerProvider?: TracerProvider;
  /** Interceptors on `ctx.act`, outermost first. */
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
}

/** One finished ask: who called whom, how long it took, and the error code if it failed. */
export type CallObserver = (from: string, target: string, durationMs: number, code: string | undefined) => void;

export interface SpawnOptions<C extends ActorClass> {
  /** Constructor arguments (the actor's dependencies). */
  readonly args?: ConstructorParameters<C>;
  /** Capabilities recorded in the registry (default: the class's static `capabilities`). */
  readonly capabilities?: readonly string[];
  /** Normal-lane bound of this actor's mailbox (default: the node's `mailboxCapacity`). */
  readonly mailboxCapacity?: number;
  /** Resume from the actor's last checkpoint (`ctx.checkpoint()`), if there is one, before it starts. */
  readonly restore?: boolean;
  /**
   * Passivate after this long without messages: checkpoint the state and drop the instance (the id,
   * claim and subscription stay). The next message re-creates the instance from the checkpoint.
   */
  readonly passivateAfterMs?: number;
  /**
   * Consume the actor's at-least-once lane (`ref.send`). Implies `restore`: the state and the ids of the
   * durable messages it already includes are checkpointed before each acknowledgement.
   */
  readonly durable?: boolean;
}

type NodeState = "running" | "stopping" | "stopped";

/**
 * A node: one NATS connection hosting actors. Create with `Node.create(options)`; dispose with
 * `await using node = …` or `await node.close()` (drains mailboxes, releases ownership, closes).
 */
export class Node implements AsyncDisposable {
  readonly id: string;
  readonly network: string;
  readonly options: NodeOptionsResolved;
  readonly subjects: NetworkSubjects;
  readonly #nc: NatsConnection;
  readonly #server: NatsServer | undefined;
  readonly #registry: Registry;
  readonly #deadLetters: DeadLetters;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #tracing: Tracing;
  readonly #userInterceptors: readonly ActionInterceptor[];
  #interceptors: readonly ActionInterceptor[] = [];
  #assurance!: Assurance;
  #states!: StateStore;
  #durable!: DurableLane;
  readonly #durableSeen = new Map<string, string[]>();
  readonly #durableConsumers = new Map<string, { stop(): Promise<void> }>();
  readonly #stateRevisions = new Map<string, number>();
  readonly #saveChains = new Map<string, Promise<number>>();
  /** The options each local actor was spawned with (a failed migration restarts it with the same). */
  readonly #spawnOptions = new Map<string, SpawnOptions<ActorClass>>();
  /** Asks whose handler deferred its reply (ctx.deferReply): the handler's return value is not the answer. */
  readonly #deferred = new WeakSet<Delivery>();
  readonly #passivation = new Map<string, { afterMs: number; make: () => InstanceType<ActorClass>; timer: TimerHandle | undefined }>();
  readonly #types = new Map<string, { actorClass: ActorClass; options: SpawnOptions<ActorClass> }>();
  readonly #handledDead = new Set<string>();
  #lastBeatOk = 0;
  #leaseCheck: Promise<void> | undefined;
  readonly #random: () => number;
  #callObserver: CallObserver | undefined;
  #scanning = false;
  readonly #pending: PendingReplies;
  readonly #cells = new Map<string, ActorCell>();
  readonly #subs = new Map<string, Subscription>();
  readonly #claims = new Map<string, Claim>();
  readonly #starting = new Set<string>();
  readonly #listeners = new Set<NodeEventListener>();
  readonly #idleWaiters = new Set<() => void>();
  readonly #replyPrefix: string;
  readonly #self: string;
  readonly #contextHost: ContextHost;
  #record: NodeRecord;
  #heartbeat: TimerHandle | undefined;
  #state: NodeState = "running";
  #closing: Promise<void> | undefined;

  private constructor(
    options: NodeOptionsResolved & { nodeId: string },
    nc: NatsConnection,
    server: NatsServer | undefined,
    registry: Registry,
    deadLetters: DeadLetters,
    record: NodeRecord,
    deps: NodeDeps,
    logger: Logger,
  ) {
    this.id = options.nodeId;
    this.network = options.network;
    this.options = options;
    this.subjects = networkSubjects(options.network);
    this.#nc = nc;
    this.#server = server;
    this.#registry = registry;
    this.#deadLetters = deadLetters;
    this.#record = record;
    this.#clock = deps.clock ?? systemClock;
    this.#logger = logger;
    this.#tracing = new Tracing(deps.tracerProvider, options.network);
    this.#userInterceptors = deps.actionInterceptors ?? [];
    this.#random = deps.random ?? Math.random;
    this.#callObserver = deps.callObserver;
    this.#pending = new PendingReplies(this.#clock);
    this.#replyPrefix = this.subjects.replyPrefix(this.id);
    this.#self = `node:${this.id}`;
    this.#contextHost = {
      nodeId: this.id,
      network: this.network,
      logger: this.#logger,
      clock: this.#clock,
      refFrom: (id, from, trace, scope) => new Ref(this.#sendPort, id, this.subjects.actor(id), from, trace, scope),
      act: (call, run) => this.#act(call, run),
      checkpoint: (cell) => this.#saveState(cell),
      defer: (cell, delivery) => {
        this.#deferred.add(delivery);
        let done = false;
        const settle = (outcome: ReplyOutcome) => {
          if (done) return;
          done = true;
          this.#settleNow(cell, delivery, outcome);
        };
        return {
          resolve: (value) => settle({ ok: true, value }),
          reject: (error) =>
            settle({ ok: false, error: isTetherError(error) ? error : new TetherError("ERR_ACTOR_HANDLER_FAILED", `actor ${cell.id} failed: ${String(error)}`, { cause: error }) }),
        };
      },
    };
  }

  /**
   * Connects (or starts an embedded `nats-server` when `servers` is empty), opens the registry and the
   * dead-letter stream, registers the node lease and starts its heartbeat.
   */
  static async create(input: NodeOptionsInput = {}, deps: NodeDeps = {}): Promise<Node> {
    const resolved = resolveNodeOptions(input);
    const nodeId = resolved.nodeId ?? `node-${nuid.next().slice(-10)}`;
    assertToken("node id", nodeId);
    const options = { ...resolved, nodeId };
    const logger = deps.logger ?? createStderrLogger("warn", { node: nodeId });
    const clock = deps.clock ?? systemClock;
    const subjects = networkSubjects(options.network);
    const server =
      options.servers.length === 0
        ? await NatsServer.start({ name: `embedded-${nodeId}`, ...(deps.natsServerBinary === undefined ? {} : { binary: deps.natsServerBinary }) })
        : undefined;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: server === undefined ? options.servers : [server.url],
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
      throw new TetherError("ERR_TRANSPORT_FAILED", `cannot connect to NATS at ${options.servers.join(",") || server?.url}: ${String(cause)}`, { cause });
    }
    try {
      const registry = await Registry.open(nc, subjects, { replicas: options.jetstreamReplicas, clock });
      const deadLetters = await DeadLetters.open(nc, subjects, {
        replicas: options.jetstreamReplicas,
        maxAgeMs: options.deadLetterMaxAgeMs,
        logger,
      });
      const record = await registry.registerNode(nodeId, options.network, options.leaseTtlMs);
      const node = new Node(options, nc, server, registry, deadLetters, record, deps, logger);
      try {
        node.#assurance = await Assurance.open({
          nc,
          subjects,
          nodeId,
          options: options.assurance,
          replicas: options.jetstreamReplicas,
          ectMaxAgeMs: options.ectMaxAgeMs,
          clock,
          logger,
          ledgerRef: node.ref(options.assurance.ledger.actorId),
        });
      } catch (error) {
        await registry.removeNode(nodeId).catch(() => undefined);
        throw error;
      }
      node.#states = await StateStore.open(nc, subjects, { replicas: options.jetstreamReplicas });
      node.#durable = await DurableLane.open(nc, subjects, { replicas: options.jetstreamReplicas }, logger);
      node.#interceptors = [node.#assurance.interceptor, ...node.#userInterceptors];
      node.#start();
      return node;
    } catch (error) {
      await nc.close().catch(() => undefined);
      await server?.stop();
      throw error;
    }
  }

  #start(): void {
    this.#nc.subscribe(this.subjects.replyInbox(this.id), { callback: (_err, msg) => this.#onInbox(msg) });
    this.#nc.subscribe(this.subjects.node(this.id), { callback: (_err, msg) => void this.#onControl(msg) });
    this.#heartbeat = this.#clock.setInterval(() => void this.#beat(), this.options.heartbeatMs);
    this.#heartbeat.unref?.();
    void (async () => {
      for await (const status of this.#nc.status()) {
        this.#emit({ type: "transport", status: status.type, detail: JSON.stringify(status).slice(0, 512) });
      }
    })();
  }

  /** The NATS server URL this node is connected to. */
  get url(): string {
    const server = this.#nc.getServer();
    return server.includes("://") ? server : `nats://${server}`;
  }

  /** The embedded server, when the node started one (no `servers` configured). */
  get embeddedServer(): NatsServer | undefined {
    return this.#server;
  }

  /** The node's lease epoch (increases on every start of the same node id). */
  get epoch(): number {
    return this.#record.epoch;
  }

  /** The assurance engine: profile, key registry (rotate, revoke), ECT store, ledger client. */
  get assurance(): Assurance {
    return this.#assurance;
  }

  /** Installs (or removes) the ask observer after creation (see `NodeDeps.callObserver`). */
  observeCalls(observer: CallObserver | undefined): void {
    this.#callObserver = observer;
  }

  /** The clock the node runs on (injected, or the system clock). */
  get clock(): Clock {
    return this.#clock;
  }

  /** The node's NATS connection, for built-in actors that need JetStream (e.g. the audit ledger). */
  get nats(): NatsConnection {
    return this.#nc;
  }

  /** Ids of the actors hosted here. */
  localActors(): string[] {
    return [...this.#cells.keys()];
  }

  /** Where an actor lives now: its registry record and whether its node's lease is alive. */
  async whereIs(actorId: string): Promise<{ record: ActorRecord; alive: boolean } | undefined> {
    const record = await this.#registry.getActor(assertToken("actor id", actorId));
    if (record === undefined) return undefined;
    const owner = await this.#registry.getNode(record.nodeId);
    const alive = owner !== undefined && owner.epoch === record.nodeEpoch && isLeaseAlive(owner, this.#clock.now());
    return { record, alive };
  }

  /** Whether a node's lease is alive now. */
  async isNodeAlive(nodeId: string): Promise<boolean> {
    const n = await this.#registry.getNode(assertToken("node id", nodeId));
    return n !== undefined && isLeaseAlive(n, this.#clock.now());
  }

  /**
   * Sends a control request to another node (activate a registered type, stop an actor) and waits for
   * its answer; a refusal rejects with the remote error.
   */
  async controlNode(nodeId: string, request: ActivateRequest | StopRequest | PauseRequest, timeoutMs = 10_000): Promise<void> {
    const reply = await this.#nc.request(this.subjects.node(assertToken("node id", nodeId)), encodeBody(request), { timeout: timeoutMs }).catch((cause: unknown) => {
      throw new TetherError("ERR_ACTOR_NOT_FOUND", `node ${nodeId} did not answer: ${String(cause)}`, { cause });
    });
    if (readMsgMeta(reply).kind === "error") throw parseErrorReply(reply.data);
  }

  /**
   * Pauses (quarantines) a local actor for `ms`: new messages are refused at once with
   * ERR_ACTOR_PAUSED (retryable: callers fail fast or fall back), durable ones wait in JetStream.
   * What is already queued is handled. `ms` 0 resumes it.
   */
  pauseActor(id: string, ms: number): void {
    const cell = this.#cells.get(id);
    if (cell === undefined) throw new TetherError("ERR_ACTOR_NOT_FOUND", `actor ${id} is not hosted on node ${this.id}`);
    cell.pausedUntil = ms <= 0 ? 0 : this.#clock.now() + ms;
    this.#emit({ type: ms <= 0 ? "actor-resumed" : "actor-paused", actorId: id });
  }

  /** Ids of the local actors that are passivated now. */
  passivatedActors(): string[] {
    return [...this.#cells.values()].filter((c) => c.passivated).map((c) => c.id);
  }

  #armPassivation(cell: ActorCell): void {
    const p = this.#passivation.get(cell.id);
    if (p === undefined || cell.passivated) return;
    if (p.timer !== undefined) this.#clock.clearTimeout(p.timer);
    p.timer = this.#clock.setTimeout(() => void this.#passivate(cell), p.afterMs);
    p.timer.unref?.();
  }

  async #passivate(cell: ActorCell): Promise<void> {
    if (cell.busy || cell.passivated || cell.state !== "running" || this.#cells.get(cell.id) !== cell) return;
    const handledBefore = cell.handled;
    try {
      await this.#saveState(cell);
    } catch (error) {
      this.#logger.warn("passivation skipped: checkpoint failed", { actorId: cell.id, error });
      return;
    }
    // a message handled (or queued) while saving, or a stop, means the checkpoint is not the latest state
    if (cell.handled !== handledBefore || cell.busy || cell.state !== "running" || this.#cells.get(cell.id) !== cell || this.#saveChains.has(cell.id)) return;
    cell.passivated = true;
    cell.instance = PASSIVATED as unknown as ActorInstance; // the real instance (and its state) can be collected
    this.#emit({ type: "actor-passivated", actorId: cell.id });
  }

  async #revive(cell: ActorCell): Promise<void> {
    const p = this.#passivation.get(cell.id);
    if (p === undefined) throw new TetherError("ERR_ACTOR_START_FAILED", `actor ${cell.id} cannot be revived`);
    const instance = p.make();
    const saved = await this.#states.load(cell.id);
    if (saved !== undefined) {
      (instance as { state?: unknown }).state = saved.state;
      this.#stateRevisions.set(cell.id, saved.revision);
    }
    cell.instance = instance;
    cell.passivated = false;
    this.#emit({ type: "actor-revived", actorId: cell.id });
  }

  /** Saves a local actor's state now (as `ctx.checkpoint()` does from inside it). */
  async checkpoint(id: string): Promise<number> {
    const cell = this.#cells.get(id);
    if (cell === undefined) throw new TetherError("ERR_ACTOR_NOT_FOUND", `actor ${id} is not hosted on node ${this.id}`);
    return this.#saveState(cell);
  }

  /**
   * Saves a cell's state with compare-and-set on the checkpoint revision this node last saw: if another
   * copy saved since (this one was declared dead and taken over), the save fails and this copy is fenced.
   */
  #saveState(cell: ActorCell, processed?: readonly string[]): Promise<number> {
    // one save at a time per actor: each compare-and-set must start from the revision the previous one wrote
    const previous = this.#saveChains.get(cell.id) ?? Promise.resolve(0);
    const next = previous.catch(() => 0).then(() => this.#saveStateNow(cell, processed));
    this.#saveChains.set(cell.id, next);
    void next.finally(() => {
      if (this.#saveChains.get(cell.id) === next) this.#saveChains.delete(cell.id);
    }).catch(() => undefined);
    return next;
  }

  async #saveStateNow(cell: ActorCell, processed?: readonly string[]): Promise<number> {
    if (cell.passivated) return this.#stateRevisions.get(cell.id) ?? 0; // its state is the checkpoint already
    await this.#ensureLease();
    if (this.#cells.get(cell.id) !== cell) throw new TetherError("ERR_ACTOR_ALREADY_ACTIVE", `actor ${cell.id} was fenced: not saving its state`);
    try {
      // every checkpoint keeps the durable dedup list (a save without it would let redeliveries re-apply)
      const seen = processed ?? this.#durableSeen.get(cell.id) ?? [];
      const revision = await this.#states.save(cell.id, (cell.instance as { state?: unknown }).state, this.id, this.#clock.now(), seen, this.#stateRevisions.get(cell.id) ?? 0);
      this.#stateRevisions.set(cell.id, revision);
      return revision;
    } catch (error) {
      if (hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) void this.#fence(cell, "its checkpoint was overwritten by another copy");
      throw error;
    }
  }

  /**
   * Restores an actor's state as its new owner and fences every older copy before it processes anything:
   * writes the checkpoint back by compare-and-set. If a stale copy's write (issued before it was paused)
   * lands first, that write holds acknowledged progress: reload it and try again. Once this write lands,
   * any write from an older copy fails.
   */
  async #takeOverState(id: string, instance: object, durable: boolean): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const saved = await this.#states.load(id);
      const state = saved === undefined ? (instance as { state?: unknown }).state : saved.state;
      const processed = saved?.processed ?? [];
      try {
        const revision = await this.#states.save(id, state, this.id, this.#clock.now(), processed, saved?.revision ?? 0);
        (instance as { state?: unknown }).state = state;
        this.#stateRevisions.set(id, revision);
        if (durable) this.#durableSeen.set(id, [...processed]);
        return;
      } catch (error) {
        if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error;
      }
    }
    throw new TetherError("ERR_ACTOR_START_FAILED", `actor ${id}: its checkpoint kept changing while taking it over`);
  }

  /**
   * Declares which actor classes this node can host when another node dies (failover) with the
   * constructor arguments and options to use. `tether node start` registers every agent of its module.
   */
  registerType<C extends ActorClass>(actorClass: C, options: Omit<SpawnOptions<C>, "restore"> = {}): void {
    validateActorClass(actorClass);
    this.#types.set(actorClass.name, { actorClass, options: options as SpawnOptions<ActorClass> });
  }

  /** Every actor of the network, as recorded in the registry. */
  listActors(): Promise<ActorRecord[]> {
    return this.#registry.listActors();
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.#registry.listNodes();
  }

  onEvent(listener: NodeEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Waits for dead-letter writes in flight to be stored. */
  flushDeadLetters(): Promise<void> {
    return this.#deadLetters.flush();
  }

  // ---------------------------------------------------------------- spawning and stopping

  /**
   * Starts an actor with this id on this node. The id is claimed in the registry first: if a live node
   * owns it (here or elsewhere), this throws ERR_ACTOR_ALREADY_ACTIVE and nothing starts.
   */
  async spawn<C extends ActorClass>(id: string, actorClass: C, options: SpawnOptions<C> = {}): Promise<ActorRef<MessageOf<C>, ReplyOf<C>>> {
    return this.#spawn(id, actorClass, () => new actorClass(...((options.args ?? []) as unknown[])), options as SpawnOptions<ActorClass>) as Promise<
      ActorRef<MessageOf<C>, ReplyOf<C>>
    >;
  }

  /** Like `spawn`, with an instance made by the caller (a supervisor child's `start()`); its class gives the protocol. */
  async spawnInstance(id: string, instance: object, options: Omit<SpawnOptions<ActorClass>, "args"> = {}): Promise<ActorRef> {
    const actorClass = (instance as { constructor?: unknown }).constructor as ActorClass;
    return this.#spawn(id, actorClass, () => instance as InstanceType<ActorClass>, options);
  }

  async #spawn(id: string, actorClass: ActorClass, make: () => InstanceType<ActorClass>, options: SpawnOptions<ActorClass>): Promise<ActorRef> {
    this.#assertRunning();
    assertToken("actor id", id);
    validateActorClass(actorClass);
    if (this.#cells.has(id) || this.#starting.has(id)) {
      throw new TetherError("ERR_ACTOR_ALREADY_ACTIVE", `actor ${id} is already active on this node (${this.id})`, {
        details: { actorId: id, owner: this.id },
      });
    }
    const capacity = options.mailboxCapacity ?? this.options.mailboxCapacity;
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new TetherError("ERR_CONFIG_INVALID", `mailboxCapacity must be a positive integer, got ${String(capacity)}`);
    }
    if (options.passivateAfterMs !== undefined && (!Number.isInteger(options.passivateAfterMs) || options.passivateAfterMs <= 0)) {
      throw new TetherError("ERR_CONFIG_INVALID", `passivateAfterMs must be a positive integer, got ${String(options.passivateAfterMs)}`);
    }
    this.#starting.add(id);
    try {
      let instance;
      try {
        instance = make();
      } catch (cause) {
        throw new TetherError("ERR_ACTOR_START_FAILED", `constructing ${actorClass.name} for ${id} failed: ${String(cause)}`, { cause });
      }
      const claim = await this.#registry.claim({
        type: "tether.registry.v1.actor",
        actorId: id,
        nodeId: this.id,
        nodeEpoch: this.#record.epoch,
        className: actorClass.name,
        capabilities: [...(options.capabilities ?? actorClass.capabilities ?? [])],
        spawnedAt: this.#clock.now(),
      });
      // From here on the id is ours: any failure must give back everything taken (claim, subscription,
      // consumer, timers), so a failed spawn never leaves an id claimed by nobody or a half-started actor.
      let cell: ActorCell | undefined;
      try {
        if (options.restore === true || options.durable === true) await this.#takeOverState(id, instance, options.durable === true);
        else this.#stateRevisions.set(id, (await this.#states.load(id))?.revision ?? 0);
        this.#assertRunning(); // the node may have begun closing meanwhile
        const mailbox = new Mailbox<Delivery>({ capacity, priorityCapacity: this.options.priorityCapacity });
        const started = new ActorCell(id, actorClass, instance, mailbox, this.#cellHost);
        cell = started;
        this.#cells.set(id, started);
        this.#claims.set(id, claim);
        this.#spawnOptions.set(id, options);
        this.#subs.set(id, this.#nc.subscribe(this.subjects.actor(id), { callback: (_err, msg) => this.#onActorMessage(started, msg) }));
        await this.#nc.flush(); // the server knows our interest before spawn returns
        if (instance.onStart !== undefined) {
          await withTimeout(this.#clock, Promise.resolve(instance.onStart(this.#lifecycleContext(id))), this.options.actorStartTimeoutMs, "ERR_ACTOR_START_FAILED", `onStart of ${id}`);
        }
        if (options.durable === true) {
          this.#durableConsumers.set(
            id,
            await this.#durable.attach(id, {
              ackWaitMs: this.options.durableAckWaitMs,
              maxDeliver: this.options.durableMaxDeliver,
              maxAckPending: capacity,
              onMessage: (jm) => this.#onDurable(started, jm),
            }),
          );
        }
      } catch (cause) {
        this.#subs.get(id)?.unsubscribe();
        this.#subs.delete(id);
        await this.#durableConsumers.get(id)?.stop().catch(() => undefined);
        this.#durableConsumers.delete(id);
        this.#cells.delete(id);
        this.#claims.delete(id);
        this.#spawnOptions.delete(id);
        this.#stateRevisions.delete(id);
        this.#durableSeen.delete(id);
        if (cell !== undefined) for (const d of cell.mailbox.drainAll()) this.#rejectDelivery(cell, d, "ERR_ACTOR_STOPPED", `actor ${id} failed to start`);
        await this.#registry.release(claim).catch(() => undefined);
        throw isTetherError(cause) && (cause.code === "ERR_ACTOR_START_FAILED" || cause.code === "ERR_NODE_STOPPED")
          ? cause
          : new TetherError("ERR_ACTOR_START_FAILED", `actor ${id} failed to start: ${String(cause)}`, { cause });
      }
      cell.state = "running";
      if (options.passivateAfterMs !== undefined) {
        this.#passivation.set(id, { afterMs: options.passivateAfterMs, make, timer: undefined });
        this.#armPassivation(cell);
      }
      cell.resume();
      this.#emit({ type: "actor-started", actorId: id, className: actorClass.name });
      return this.ref(id);
    } finally {
      this.#starting.delete(id);
    }
  }

  /** Stops one local actor: no new messages, drains its mailbox (bounded), runs onStop, releases its id. */
  async stopActor(id: string): Promise<void> {
    const cell = this.#cells.get(id);
    if (cell === undefined) throw new TetherError("ERR_ACTOR_NOT_FOUND", `actor ${id} is not hosted on node ${this.id}`);
    await this.#stopCells([cell], this.options.shutdownTimeoutMs);
  }

  /** A ref to an actor anywhere in the network, by id alone. */
  ref<C extends ActorClass = ActorClass>(id: string): ActorRef<MessageOf<C>, ReplyOf<C>> {
    assertToken("actor id", id);
    return new Ref(this.#sendPort, id, this.subjects.actor(id), this.#self, ACTIVE_CONTEXT, undefined) as ActorRef<MessageOf<C>, ReplyOf<C>>;
  }

  readonly #sendPort: SendPort = {
    sendDurable: (ref, msg, options) => this.#sendDurable(ref.id, msg, ref.from, ref.scope, options?.id),
    send: (ref, msg, isAsk, options) => {
      const observer = this.#callObserver;
      const started = observer === undefined || !isAsk ? 0 : this.#clock.now();
      const result = this.#send(ref.id, ref.subject, msg, isAsk, options, ref.from, ref.trace === ACTIVE_CONTEXT ? (this.#tracing.enabled ? otelContext.active() : undefined) : ref.trace, ref.scope, false);
      if (observer === undefined || result === undefined) return result;
      return result.then(
        (value) => {
          observer(ref.from, ref.id, this.#clock.now() - started, undefined);
          return value;
        },
        (error: unknown) => {
          observer(ref.from, ref.id, this.#clock.now() - started, isTetherError(error) ? error.code : "ERR_TRANSPORT_FAILED");
          throw error;
        },
      );
    },
  };

  async #sendDurable(target: string, msg: unknown, from: string, scope: ExecutionScope | undefined, idOption: string | undefined): Promise<{ id: string; duplicate: boolean }> {
    this.#assertRunning();
    if (idOption !== undefined && (typeof idOption !== "string" || idOption.length === 0 || idOption.length > 128 || !isSafeHeaderValue(idOption))) {
      throw new TetherError("ERR_MESSAGE_INVALID", "send: id must be 1-128 printable ASCII characters");
    }
    const id = idOption ?? nuid.next();
    let data: Uint8Array;
    try {
      data = encodeBody(msg);
    } catch (cause) {
      throw new TetherError("ERR_MESSAGE_INVALID", `message to ${target} cannot be encoded: ${String(cause)}`, { cause });
    }
    if (data.length > this.options.maxPayloadBytes) throw tooLarge(target, data.length, this.options.maxPayloadBytes);
    const messageType = messageTypeOf(msg);
    // JetStream publish adds its own headers (Nats-Msg-Id), so this lane uses the client's MsgHdrs
    const h = natsHeaders();
    h.set(HeaderNames.kind, "tell");
    h.set(HeaderNames.id, id);
    h.set(HeaderNames.from, from);
    if (messageType !== undefined && isSafeHeaderValue(messageType)) h.set(HeaderNames.type, messageType);
    const ect = outgoingToken(scope);
    if (ect !== undefined && ect.token !== "") h.set(HeaderNames.executionContext, ect.token);
    const { duplicate } = await this.#durable.publish(target, data, h, id);
    return { id, duplicate };
  }

  /** A durable message for a local actor: skip what its checkpoint already includes, else queue it. */
  #onDurable(cell: ActorCell, jm: JsMsg): void {
    if (cell.state !== "running") {
      jm.nak(); // stopping, moving or fenced: the next owner gets it
      return;
    }
    if (cell.pausedUntil > 0 && this.#clock.now() < cell.pausedUntil) {
      jm.nak(Math.max(100, cell.pausedUntil - this.#clock.now())); // kept in JetStream until the pause ends
      return;
    }
    const meta = readInboundMeta(jm.headers);
    const id = meta.id ?? `seq-${jm.seq}`;
    const seen = this.#durableSeen.get(cell.id);
    if (seen?.includes(id)) {
      jm.ack(); // its effects are already in the restored state: an idempotent redelivery
      return;
    }
    const reject = (error: TetherError) => {
      this.#deadLetter(error.code, error.message, { subject: jm.subject, target: cell.id, kind: "send", messageType: meta.type, from: meta.from, messageId: id, data: jm.data });
      jm.term(error.code);
    };
    let body: unknown;
    try {
      body = decodeBody(jm.data);
    } catch (error) {
      reject(error as TetherError);
      return;
    }
    const messageType = messageTypeOf(body) ?? meta.type;
    const parsed = cell.protocol.safeParse(body);
    if (!parsed.success) {
      reject(classifySchemaError(cell.id, messageType, parsed.error));
      return;
    }
    const delivery: Delivery = {
      body: parsed.data,
      messageType,
      id,
      from: meta.from,
      expectsReply: false,
      replyTo: undefined,
      trace: undefined,
      subject: jm.subject,
      incoming: undefined,
      control: false,
      durable: jm,
    };
    try {
      cell.enqueue(delivery, "normal");
    } catch {
      jm.nak(1_000); // mailbox full: JetStream keeps it and redelivers (backpressure, not loss)
    }
  }

  /** After a durable message was handled: save state with its id, then acknowledge; or ask for redelivery. */
  async #settleDurable(cell: ActorCell, delivery: Delivery, outcome: ReplyOutcome): Promise<void> {
    const jm = delivery.durable as JsMsg;
    if (!outcome.ok) {
      if (jm.info.deliveryCount >= this.options.durableMaxDeliver) {
        this.#deadLetter(outcome.error.code, `given up after ${jm.info.deliveryCount} deliveries: ${outcome.error.message}`, {
          subject: jm.subject,
          target: cell.id,
          kind: "send",
          messageType: delivery.messageType,
          from: delivery.from,
          messageId: delivery.id,
          data: jm.data,
        });
        jm.term(outcome.error.code);
      } else jm.nak(Math.min(500 * jm.info.deliveryCount, 10_000));
      return;
    }
    const seen = this.#durableSeen.get(cell.id) ?? [];
    seen.push(delivery.id);
    if (seen.length > 1_000) seen.splice(0, seen.length - 1_000);
    this.#durableSeen.set(cell.id, seen);
    try {
      await this.#saveState(cell, seen);
      jm.ack();
    } catch (error) {
      this.#logger.warn("checkpoint after a durable message failed; it will be redelivered", { actorId: cell.id, id: delivery.id, error });
      jm.nak(1_000);
    }
  }

  /** Sends a compensation request to an actor wherever it lives (priority lane) and waits for it to finish. */
  #requestCompensation(actorId: string, request: CompensationRequest, timeoutMs: number): Promise<unknown> {
    try {
      return (
        this.#send(actorId, this.subjects.actor(actorId), request, true, { priority: true, timeoutMs }, this.#self, undefined, undefined, true) ??
        Promise.resolve(undefined)
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ---------------------------------------------------------------- sending

  /** Sends a tell (returns undefined, throws synchronously) or an ask (returns the reply promise). */
  #send(
    target: string,
    subject: string,
    msg: unknown,
    isAsk: boolean,
    options: AskOptions | undefined,
    from: string,
    parent: Context | undefined,
    scope: ExecutionScope | undefined,
    control: boolean,
  ): Promise<unknown> | undefined {
    if (this.#state !== "running") throw new TetherError("ERR_NODE_STOPPED", `node ${this.id} is ${this.#state}`);
    const id = nuid.next();
    const messageType = messageTypeOf(msg);
    const timeoutMs = options?.timeoutMs ?? this.options.askTimeoutMs;
    const span = this.#tracing.enabled ? this.#tracing.startSend(target, messageType, isAsk ? "ask" : "tell", parent) : undefined;
    const traceCtx = contextWithSpan(span, parent);
    const ect = outgoingToken(scope);
    const local = this.#cells.get(target);
    if (local !== undefined && local.state !== "stopping" && local.state !== "stopped") {
      if (scope?.meter !== undefined) scope.meter.messages++;
      return this.#sendLocal(local, subject, msg, messageType, id, isAsk, options, from, traceCtx, timeoutMs, span, ect, control);
    }
    let data: Uint8Array;
    try {
      data = encodeBody(msg);
    } catch (cause) {
      endSpan(span, cause);
      throw new TetherError("ERR_MESSAGE_INVALID", `message to ${target} cannot be encoded: ${String(cause)}`, { cause });
    }
    if (data.length > this.options.maxPayloadBytes) {
      const error = tooLarge(target, data.length, this.options.maxPayloadBytes);
      endSpan(span, error);
      throw error;
    }
    let lines = `${control ? COMPENSATE_LINE : isAsk ? ASK_LINE : TELL_LINE}${HeaderNames.id}: ${id}\r\n${HeaderNames.from}: ${from}\r\n`;
    if (messageType !== undefined && isSafeHeaderValue(messageType)) lines += `${HeaderNames.type}: ${messageType}\r\n`;
    if (options?.priority === true) lines += PRIORITY_LINE;
    if (traceCtx !== undefined) lines += traceHeaderLines(traceCtx);
    if (ect !== undefined && ect.token !== "") {
      lines += `${HeaderNames.executionContext}: ${ect.token}\r\n`;
      if (ect.receipt !== undefined) lines += `${HeaderNames.receipt}: ${ect.receipt}\r\n`;
    }
    const h = encodedHeaders(lines);
    if (scope?.meter !== undefined) {
      scope.meter.messages++;
      scope.meter.bytes += data.length;
    }
    const reply = isAsk ? this.#replyPrefix + id : `${this.#replyPrefix}${id}.${target}`;
    const waiting = isAsk ? this.#pending.wait(id, target, timeoutMs) : undefined;
    try {
      this.#nc.publish(subject, data, { headers: h, reply });
    } catch (cause) {
      const error = new TetherError("ERR_TRANSPORT_FAILED", `publish to ${target} failed: ${String(cause)}`, { cause });
      this.#pending.reject(id, error);
      endSpan(span, error);
      if (!isAsk) throw error;
      return waiting;
    }
    if (span === undefined) return waiting;
    if (waiting === undefined) {
      span.end();
      return undefined;
    }
    return waiting.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    );
  }

  #sendLocal(
    cell: ActorCell,
    subject: string,
    msg: unknown,
    messageType: string | undefined,
    id: string,
    isAsk: boolean,
    options: AskOptions | undefined,
    from: string,
    traceCtx: Context | undefined,
    timeoutMs: number,
    span: ReturnType<Tracing["startSend"]>,
    incoming: ScopeToken | undefined,
    control: boolean,
  ): Promise<unknown> | undefined {
    if (!control && cell.pausedUntil > 0 && this.#clock.now() < cell.pausedUntil) {
      const error = paused(cell);
      endSpan(span, error);
      if (isAsk) return Promise.reject(error);
      throw error;
    }
    const parsed = (control ? CompensationRequest : cell.protocol).safeParse(msg);
    if (!parsed.success) {
      const error = classifySchemaError(cell.id, messageType, parsed.error);
      this.#deadLetter(error.code, error.message, { subject, target: cell.id, kind: isAsk ? "ask" : "tell", messageType, from, messageId: id, data: undefined });
      endSpan(span, error);
      if (isAsk) return Promise.reject(error);
      throw error;
    }
    const waiting = isAsk ? this.#pending.wait(id, cell.id, timeoutMs) : undefined;
    const delivery: Delivery = {
      body: parsed.data,
      messageType,
      id,
      from,
      expectsReply: isAsk,
      replyTo: undefined,
      trace: traceCtx,
      subject,
      incoming,
      control,
    };
    try {
      cell.enqueue(delivery, options?.priority === true ? "priority" : "normal");
    } catch (error) {
      endSpan(span, error);
      if (!isAsk) throw error;
      this.#pending.reject(id, error);
      return waiting;
    }
    endSpan(span);
    return waiting;
  }

  #settleLocal(id: string, outcome: ReplyOutcome): void {
    if (outcome.ok) this.#pending.resolve(id, outcome.value);
    else this.#pending.reject(id, outcome.error);
  }

  // ---------------------------------------------------------------- receiving

  #onInbox(msg: Msg): void {
    const rest = msg.subject.slice(this.#replyPrefix.length);
    const dot = rest.indexOf(".");
    const id = dot < 0 ? rest : rest.slice(0, dot);
    const tellTarget = dot < 0 ? undefined : rest.slice(dot + 1);
    const meta = readMsgMeta(msg);
    if (meta.status === 503) {
      // no subscriber for the target subject: no live actor has that id
      const target = tellTarget ?? this.#pending.targetOf(id);
      const error = new TetherError("ERR_ACTOR_NOT_FOUND", `no live actor ${target ?? "(unknown)"} in network ${this.network}`, {
        details: { actorId: target },
      });
      this.#deadLetter("ERR_ACTOR_NOT_FOUND", error.message, {
        subject: target === undefined ? "" : this.subjects.actor(target),
        target,
        kind: tellTarget === undefined ? "ask" : "tell",
        messageType: undefined,
        from: this.#self,
        messageId: id,
        data: undefined,
      });
      if (tellTarget === undefined) this.#pending.reject(id, error);
      else this.#emit({ type: "undeliverable", messageId: id, target, code: error.code, message: error.message });
      return;
    }
    const kind = meta.kind;
    if (kind === "reply") {
      let value: unknown;
      try {
        value = decodeBody(msg.data);
      } catch (error) {
        this.#pending.reject(id, error);
        return;
      }
      if (!this.#pending.resolve(id, value)) this.#logger.debug("late or unknown reply", { id });
      return;
    }
    if (kind === "error") {
      const error = parseErrorReply(msg.data);
      if (tellTarget !== undefined) {
        this.#emit({ type: "undeliverable", messageId: id, target: tellTarget, code: error.code, message: error.message });
      } else if (!this.#pending.reject(id, error)) this.#logger.debug("late or unknown error reply", { id, code: error.code });
      return;
    }
    this.#logger.warn("unexpected message on reply inbox", { subject: msg.subject });
  }

  #onActorMessage(cell: ActorCell, msg: Msg): void {
    const meta = readMsgMeta(msg);
    const id = meta.id ?? nuid.next();
    const control = meta.kind === "compensate";
    const isAsk = meta.kind === "ask" || control;
    if (msg.data.length > this.options.maxPayloadBytes) {
      this.#rejectInbound(cell, msg, meta, id, meta.type, tooLarge(cell.id, msg.data.length, this.options.maxPayloadBytes));
      return;
    }
    if (meta.kind !== "tell" && !isAsk && !control) {
      this.#rejectInbound(cell, msg, meta, id, meta.type, new TetherError("ERR_MESSAGE_MALFORMED", `message to ${cell.id} has no valid ${HeaderNames.kind} header`));
      return;
    }
    let body: unknown;
    try {
      body = decodeBody(msg.data);
    } catch (error) {
      this.#rejectInbound(cell, msg, meta, id, meta.type, error as TetherError);
      return;
    }
    const messageType = messageTypeOf(body) ?? meta.type;
    const parsed = (control ? CompensationRequest : cell.protocol).safeParse(body);
    if (!parsed.success) {
      this.#rejectInbound(cell, msg, meta, id, messageType, classifySchemaError(cell.id, messageType, parsed.error));
      return;
    }
    let trace: Context | undefined;
    if (this.#tracing.enabled) {
      const remote = contextFromTraceparent(meta.traceparent, meta.tracestate);
      const span = this.#tracing.startReceive(cell.id, messageType, remote);
      trace = contextWithSpan(span, remote);
      span?.end();
    }
    const delivery: Delivery = {
      body: parsed.data,
      messageType,
      id,
      from: meta.from,
      expectsReply: isAsk,
      replyTo: isAsk && msg.reply ? msg.reply : undefined,
      trace,
      subject: msg.subject,
      incoming: undefined,
      control,
    };
    if (meta.executionContext === undefined && cell.inboundPending === 0) {
      this.#accept(cell, msg, meta, delivery); // fast path: nothing to verify, nothing queued ahead
      return;
    }
    // Verification is asynchronous; deliveries still reach the mailbox in arrival order.
    const token = meta.executionContext;
    const verified = token === undefined ? Promise.resolve(undefined) : this.#assurance.verifyIncoming(token, meta.receipt, cell.id, id);
    // The chain below handles the rejection when this message's turn comes; mark it handled now so a
    // token that fails before earlier messages finish is never an unhandled rejection (a process crash).
    verified.catch(() => undefined);
    cell.inboundPending++;
    cell.inboundTail = cell.inboundTail
      .then(() => verified)
      .then(
        (incoming) => this.#accept(cell, msg, meta, incoming === undefined ? delivery : { ...delivery, incoming }),
        (error: unknown) =>
          this.#rejectInbound(
            cell,
            msg,
            meta,
            id,
            messageType,
            isTetherError(error) ? error : new TetherError("ERR_ECT_MALFORMED", `execution context rejected: ${String(error)}`, { cause: error }),
          ),
      )
      .catch((error: unknown) => this.#logger.error("inbound delivery failed", { actorId: cell.id, id, error })) // keep the chain healthy
      .finally(() => {
        cell.inboundPending--;
      });
  }

  #accept(cell: ActorCell, msg: Msg, meta: InboundMeta, delivery: Delivery): void {
    if (cell.pausedUntil > 0 && !delivery.control && this.#clock.now() < cell.pausedUntil) {
      this.#rejectInbound(cell, msg, meta, delivery.id, delivery.messageType, paused(cell));
      return;
    }
    if (cell.state === "stopping" || cell.state === "stopped") {
      this.#rejectInbound(cell, msg, meta, delivery.id, delivery.messageType, new TetherError("ERR_ACTOR_STOPPED", `actor ${cell.id} is stopping`));
      return;
    }
    try {
      cell.enqueue(delivery, meta.priority ? "priority" : "normal");
    } catch (error) {
      this.#rejectInbound(cell, msg, meta, delivery.id, delivery.messageType, error as TetherError);
    }
  }

  /** Sends a handler's outcome to a remote asker. */
  #replyRemote(replySubject: string, actorId: string, outcome: ReplyOutcome): void {
    if (this.#nc.isClosed()) return;
    if (!outcome.ok) {
      this.#publishError(replySubject, outcome.error);
      return;
    }
    let data: Uint8Array;
    try {
      data = encodeBody(outcome.value);
    } catch (cause) {
      this.#publishError(replySubject, new TetherError("ERR_MESSAGE_INVALID", `reply of ${actorId} cannot be encoded: ${String(cause)}`, { cause }));
      return;
    }
    if (data.length > this.options.maxPayloadBytes) {
      this.#publishError(replySubject, tooLarge(`reply of ${actorId}`, data.length, this.options.maxPayloadBytes));
      return;
    }
    try {
      this.#nc.publish(replySubject, data, { headers: REPLY_HEADERS });
    } catch (cause) {
      // e.g. body + headers over the server's max_payload, or a draining connection: never a crash
      this.#logger.warn("reply could not be published", { actorId, error: cause });
      this.#publishError(replySubject, new TetherError("ERR_MESSAGE_TOO_LARGE", `reply of ${actorId} could not be sent: ${String(cause)}`, { cause }));
    }
  }

  #publishError(replySubject: string, error: TetherError): void {
    if (this.#nc.isClosed()) return;
    const h = errorHeaders(error.code);
    const body: ErrorReply = { code: error.code, message: error.message.slice(0, 4096), retryable: error.retryable, details: safeDetails(error.details) };
    try {
      this.#nc.publish(replySubject, encodeBody(body), { headers: h });
    } catch (cause) {
      this.#logger.warn("error reply could not be published", { code: error.code, error: cause });
    }
  }

  /** A message that never reaches the actor: error reply to the sender (ask or tell) and a dead letter. */
  #rejectInbound(cell: ActorCell, msg: Msg, meta: InboundMeta, id: string, messageType: string | undefined, error: TetherError): void {
    if (msg.reply) this.#publishError(msg.reply, error);
    this.#deadLetter(error.code, error.message, {
      subject: msg.subject,
      target: cell.id,
      kind: meta.kind,
      messageType,
      from: meta.from,
      messageId: id,
      data: msg.data,
    });
  }

  #rejectDelivery(cell: ActorCell, d: Delivery, code: ErrorCode, message: string): void {
    const error = new TetherError(code, message);
    this.#cellHost.settle(cell, d, { ok: false, error });
    this.#deadLetter(code, message, {
      subject: d.subject,
      target: undefined,
      kind: d.expectsReply ? "ask" : "tell",
      messageType: d.messageType,
      from: d.from,
      messageId: d.id,
      data: undefined,
    });
  }

  #deadLetter(
    code: ErrorCode,
    reason: string,
    m: { subject: string; target: string | undefined; kind: string | undefined; messageType: string | undefined; from: string | undefined; messageId: string; data: Uint8Array | undefined },
  ): void {
    const record: DeadLetterRecord = {
      type: "tether.deadletter.v1",
      id: nuid.next(),
      messageId: m.messageId.slice(0, 128),
      code,
      reason: reason.slice(0, 4096),
      network: this.network,
      node: this.id,
      subject: m.subject.slice(0, 512),
      ...(m.target === undefined ? {} : { target: m.target }),
      ...(m.kind === undefined ? {} : { kind: m.kind.slice(0, 16) }),
      ...(m.messageType === undefined ? {} : { messageType: m.messageType.slice(0, 256) }),
      ...(m.from === undefined ? {} : { from: m.from.slice(0, 256) }),
      size: m.data?.length ?? 0,
      payloadPreview: m.data === undefined ? "" : Buffer.from(m.data.subarray(0, 4096)).toString("base64"),
      at: this.#clock.now(),
    };
    if (!this.#nc.isClosed()) this.#deadLetters.write(record);
    else this.#logger.error("dead letter after close", { record });
    this.#emit({ type: "dead-letter", record });
  }

  // ---------------------------------------------------------------- handling

  readonly #cellHost: CellHost = {
    invoke: (cell, delivery) => {
      if (this.#leaseLapsed()) return this.#ensureLease().then(() => this.#invokeOwned(cell, delivery));
      return this.#invokeOwned(cell, delivery);
    },
    settle: (cell, delivery, outcome) => {
      if (this.#deferred.has(delivery) && outcome.ok) return; // answered later through ctx.deferReply
      this.#settleNow(cell, delivery, outcome);
    },
    onFailure: (cell, delivery, error) => {
      this.#logger.warn("actor handler failed", { actorId: cell.id, messageId: delivery.id, error });
      if (!this.#nc.isClosed()) {
        const notice: FailureNotice = {
          type: "tether.node.v1.failure",
          actorId: cell.id,
          nodeId: this.id,
          messageId: delivery.id.slice(0, 128),
          code: isTetherError(error) ? error.code : "ERR_ACTOR_HANDLER_FAILED",
        };
        this.#nc.publish(this.subjects.failures(cell.id), encodeBody(notice));
      }
      this.#emit({ type: "actor-failed", actorId: cell.id, messageId: delivery.id, error });
    },
    onIdle: (cell) => {
      this.#armPassivation(cell);
      for (const waiter of [...this.#idleWaiters]) waiter();
    },
    revive: (cell) => this.#revive(cell),
  };


  /** Sends a handler's outcome: durable ack/nak, a remote reply, or a local ask's settlement. */
  #settleNow(cell: ActorCell, delivery: Delivery, outcome: ReplyOutcome): void {
    if (delivery.durable !== undefined) {
      void this.#settleDurable(cell, delivery, outcome);
      return;
    }
    if (delivery.replyTo !== undefined) this.#replyRemote(delivery.replyTo, cell.id, outcome);
    else if (delivery.expectsReply) this.#settleLocal(delivery.id, outcome);
  }

  /** Runs one delivery's handler, unless this copy was fenced meanwhile. */
  #invokeOwned(cell: ActorCell, delivery: Delivery): unknown {
    if (this.#cells.get(cell.id) !== cell) throw new TetherError("ERR_ACTOR_NOT_FOUND", `actor ${cell.id} moved to another node`);
    if (delivery.control) return this.#compensate(cell, delivery);
    if (!this.#tracing.enabled) return cell.instance.handle(delivery.body as never, new HandlerContext(this.#contextHost, cell, delivery, delivery.trace));
    const span = this.#tracing.startHandle(cell.id, delivery.messageType, delivery.trace);
    const traceCtx = contextWithSpan(span, delivery.trace) as Context;
    const ctx = new HandlerContext(this.#contextHost, cell, delivery, traceCtx);
    return Promise.resolve(otelContext.with(traceCtx, () => cell.instance.handle(delivery.body as never, ctx))).then(
      (value) => {
        span?.end();
        return value;
      },
      (error: unknown) => {
        endSpan(span, error);
        throw error;
      },
    );
  }

  #leaseLapsed(): boolean {
    return this.#lastBeatOk !== 0 && this.#clock.now() - this.#lastBeatOk > this.options.leaseTtlMs;
  }

  /** If our lease lapsed, re-asserts (or loses) every claim before any more work: shared by all cells. */
  #ensureLease(): Promise<void> {
    if (!this.#leaseLapsed()) return Promise.resolve();
    this.#leaseCheck ??= this.#fenceSelf()
      .then(() => {
        this.#lastBeatOk = this.#clock.now();
      })
      .finally(() => {
        this.#leaseCheck = undefined;
      });
    return this.#leaseCheck;
  }

  /**
   * Runs an actor's compensate() for a rollback, itself as a significant action: its ECT's parent is the
   * action being undone, so the DAG records both.
   */
  #compensate(cell: ActorCell, delivery: Delivery): Promise<unknown> {
    const request = delivery.body as CompensationRequest;
    const compensate = cell.instance.compensate;
    if (typeof compensate !== "function") {
      return Promise.reject(new TetherError("ERR_ROLLBACK_NOT_COMPENSABLE", `actor ${cell.id} (${cell.actorClass.name}) has no compensate() method`));
    }
    const undone: ScopeToken = { token: "", jti: request.jti, wid: request.wid, level: "L1", receipt: undefined };
    const ctx = new HandlerContext(this.#contextHost, cell, { ...delivery, incoming: undone }, delivery.trace);
    return ctx.act(`compensate:${request.compensation}`, { jti: request.jti, action: request.action, attempt: request.attempt }, () =>
      compensate.call(cell.instance, request, ctx),
    );
  }

  /**
   * Rolls back a workflow, or one action and everything it caused: runs each compensable action's
   * compensation on its actor (wherever it lives) in reverse topological order, retrying and then
   * escalating a compensation that keeps failing. See `RollbackCoordinator`.
   */
  rollback(request: RollbackRequestInput): Promise<RollbackReport> {
    this.#assertRunning();
    return new RollbackCoordinator({
      store: this.#assurance.store,
      compensate: (actorId, req, timeoutMs) => this.#requestCompensation(actorId, req, timeoutMs),
      clock: this.#clock,
      logger: this.#logger,
      emit: (event) => this.#emit(event),
      recordEvent: (event, subject, details) => this.#assurance.recordEvent(event, subject, details),
    }).run(request);
  }

  async #act<T>(call: ActionCall, run: () => Promise<T> | T): Promise<T> {
    if (typeof call.name !== "string" || call.name.length === 0 || call.name.length > 256) {
      throw new TetherError("ERR_MESSAGE_INVALID", `ctx.act needs an action name of 1-256 characters`);
    }
    if (typeof call.params !== "object" || call.params === null) {
      throw new TetherError("ERR_MESSAGE_INVALID", `ctx.act params must be an object`);
    }
    const chain = this.#interceptors;
    const dispatch = async (index: number): Promise<unknown> => {
      const interceptor = chain[index];
      return interceptor === undefined ? run() : interceptor(call, () => dispatch(index + 1));
    };
    return (await dispatch(0)) as T;
  }

  #lifecycleContext(id: string): ActorLifecycleContext {
    return { self: id, nodeId: this.id, network: this.network, log: this.#logger, clock: this.#clock };
  }

  // ---------------------------------------------------------------- lifecycle

  async #beat(): Promise<void> {
    if (this.#state !== "running") return;
    const now = this.#clock.now();
    try {
      if (this.#leaseLapsed()) await this.#ensureLease();
      else {
        this.#record = await this.#registry.heartbeat({ ...this.#record, actorCount: this.#cells.size });
        this.#lastBeatOk = now;
      }
    } catch (error) {
      this.#logger.warn("heartbeat failed", { error });
      return;
    }
    if (!this.#scanning && this.#types.size > 0) {
      this.#scanning = true;
      void this.#failoverScan().finally(() => {
        this.#scanning = false;
      });
    }
  }

  /**
   * Our lease lapsed (the process was paused, or partitioned): other nodes may have taken our actors
   * over. Re-register under a new epoch and re-assert each claim by compare-and-set; a claim that
   * changed meanwhile belongs to someone else, and the local copy is stopped (fenced).
   */
  async #fenceSelf(): Promise<void> {
    this.#record = await this.#registry.registerNode(this.id, this.network, this.options.leaseTtlMs);
    this.#logger.warn("lease lapsed: re-registered under a new epoch, re-checking every claim", { epoch: this.#record.epoch });
    for (const [actorId, claim] of [...this.#claims]) {
      const renewed = await this.#registry.reclaim(claim, this.#record.epoch);
      if (renewed !== undefined) this.#claims.set(actorId, renewed);
      else {
        const cell = this.#cells.get(actorId);
        if (cell !== undefined) await this.#fence(cell, "its claim was taken over while this node's lease had lapsed");
      }
    }
  }

  /**
   * The node control subject. `fence`: another node took one of our actors over (it thought us dead);
   * check with the registry and stop our copy at once if the claim is no longer ours.
   */
  async #onControl(msg: Msg): Promise<void> {
    let body: unknown;
    try {
      body = decodeBody(msg.data);
    } catch {
      return;
    }
    const parsed = NodeControl.safeParse(body);
    if (!parsed.success) {
      if (msg.reply) this.#publishError(msg.reply, new TetherError("ERR_MESSAGE_INVALID", "unknown node control message"));
      return;
    }
    const control = parsed.data;
    if (control.type === "tether.node.v1.activate") {
      const type = this.#types.get(control.className);
      try {
        if (type === undefined) throw new TetherError("ERR_ACTOR_CLASS_INVALID", `node ${this.id} has no registered type ${control.className}`);
        await this.spawn(control.actorId, type.actorClass, control.fresh === true ? { ...type.options } : { ...type.options, restore: true });
        if (msg.reply) this.#nc.publish(msg.reply, encodeBody({ ok: true, nodeId: this.id }), { headers: REPLY_HEADERS });
      } catch (error) {
        if (msg.reply) this.#publishError(msg.reply, isTetherError(error) ? error : new TetherError("ERR_ACTOR_START_FAILED", String(error)));
      }
      return;
    }
    if (control.type === "tether.node.v1.pause") {
      const cell = this.#cells.get(control.actorId);
      if (cell !== undefined) this.pauseActor(control.actorId, Math.max(0, control.until - this.#clock.now()));
      if (msg.reply) this.#nc.publish(msg.reply, encodeBody({ ok: cell !== undefined }), { headers: REPLY_HEADERS });
      return;
    }
    if (control.type === "tether.node.v1.stop") {
      try {
        if (this.#cells.has(control.actorId)) await this.stopActor(control.actorId);
        if (msg.reply) this.#nc.publish(msg.reply, encodeBody({ ok: true }), { headers: REPLY_HEADERS });
      } catch (error) {
        if (msg.reply) this.#publishError(msg.reply, isTetherError(error) ? error : new TetherError("ERR_ACTOR_STOPPED", String(error)));
      }
      return;
    }
    const cell = this.#cells.get(control.actorId);
    if (cell === undefined) return;
    const owner = await this.#registry.getActor(control.actorId).catch(() => undefined);
    if (owner !== undefined && owner.nodeId !== this.id) await this.#fence(cell, `node ${owner.nodeId} took it over`);
  }

  /**
   * Moves a local actor to another node, keeping its id and state: stops taking messages, handles
   * what is queued, checkpoints, releases its id, and has `toNode` activate it from the checkpoint
   * (that node must have `registerType`d the class). Durable messages wait in JetStream meanwhile;
   * tells and asks sent during the move get ERR_ACTOR_NOT_FOUND (retryable). If the target refuses,
   * the actor is re-activated here.
   */
  async migrate(id: string, toNode: string, options: { timeoutMs?: number } = {}): Promise<void> {
    this.#assertRunning();
    assertToken("node id", toNode);
    const cell = this.#cells.get(id);
    if (cell === undefined) throw new TetherError("ERR_ACTOR_NOT_FOUND", `actor ${id} is not hosted on node ${this.id}`);
    if (toNode === this.id) return;
    const className = cell.actorClass.name;
    const original = { ...(this.#spawnOptions.get(id) ?? {}) };
    const failed = await this.#stopCells([cell], this.options.shutdownTimeoutMs, true);
    // back here, with the in-memory instance (its state) and the options it was spawned with
    const rehost = () =>
      this.spawnInstance(id, cell.instance, { ...original, restore: false }).catch((e: unknown) =>
        this.#logger.error("actor lost in a failed migration", { actorId: id, error: e }),
      );
    if (failed.has(id)) {
      await rehost();
      throw new TetherError("ERR_REGISTRY_FAILED", `migrating ${id} aborted: its state could not be checkpointed; it stays on ${this.id}`);
    }
    const request: ActivateRequest = { type: "tether.node.v1.activate", actorId: id, className };
    try {
      await this.controlNode(toNode, request, options.timeoutMs ?? 10_000);
      this.#emit({ type: "actor-migrated", actorId: id, from: this.id, to: toNode });
    } catch (error) {
      await rehost(); // the target could not take it
      throw isTetherError(error) ? error : new TetherError("ERR_TRANSPORT_FAILED", `migrating ${id} to ${toNode} failed: ${String(error)}`, { cause: error });
    }
  }

  /** Stops a local copy that no longer owns its id: no onStop, no release (the claim is someone else's). */
  async #fence(cell: ActorCell, reason: string): Promise<void> {
    if (this.#cells.get(cell.id) !== cell) return;
    cell.state = "stopped";
    this.#cells.delete(cell.id);
    this.#claims.delete(cell.id);
    this.#subs.get(cell.id)?.unsubscribe();
    this.#subs.delete(cell.id);
    cell.abortCurrent(new TetherError("ERR_ACTOR_ALREADY_ACTIVE", `actor ${cell.id} was fenced: ${reason}`));
    await this.#durableConsumers.get(cell.id)?.stop();
    this.#durableConsumers.delete(cell.id);
    for (const d of cell.mailbox.drainAll()) {
      if (d.durable !== undefined) d.durable.nak(); // the owner will get it
      else this.#rejectDelivery(cell, d, "ERR_ACTOR_NOT_FOUND", `actor ${cell.id} moved to another node`);
    }
    this.#durableSeen.delete(cell.id);
    this.#stateRevisions.delete(cell.id);
    const passivation = this.#passivation.get(cell.id);
    if (passivation?.timer !== undefined) this.#clock.clearTimeout(passivation.timer);
    this.#passivation.delete(cell.id);
    this.#logger.warn("actor fenced", { actorId: cell.id, reason });
    this.#emit({ type: "actor-fenced", actorId: cell.id, reason });
  }

  /**
   * Failover: finds nodes whose lease lapsed and re-activates their actors here, for the classes this
   * node registered. Least-loaded placement: every candidate waits in proportion to its own load
   * before claiming, so the least-loaded node usually wins; the registry's compare-and-set makes sure
   * exactly one does.
   */
  async #failoverScan(): Promise<void> {
    const now = this.#clock.now();
    const nodes = await this.#registry.listNodes().catch(() => []);
    const live = nodes.filter((n) => isLeaseAlive(n, now));
    for (const dead of nodes.filter((n) => !isLeaseAlive(n, now) && n.nodeId !== this.id)) {
      const key = `${dead.nodeId}:${dead.epoch}`;
      if (this.#handledDead.has(key)) continue;
      let orphans: ActorRecord[];
      try {
        orphans = (await this.#registry.ownedBy(dead.nodeId)).filter((a) => a.nodeEpoch <= dead.epoch);
      } catch (error) {
        this.#logger.warn("failover: cannot list a dead node's actors yet; retrying next beat", { nodeId: dead.nodeId, error });
        continue; // not marked handled: the next scan tries again
      }
      if (orphans.length === 0) {
        this.#handledDead.add(key);
        continue;
      }
      this.#emit({ type: "node-dead", nodeId: dead.nodeId, actors: orphans.map((a) => a.actorId) });
      const rank = live.filter((n) => n.nodeId !== this.id && n.actorCount < this.#cells.size).length;
      await sleep(this.#clock, rank * 150 + Math.floor(this.#random() * 50));
      let complete = true;
      for (const orphan of orphans) {
        const type = this.#types.get(orphan.className);
        if (type === undefined || this.#cells.has(orphan.actorId) || this.#state !== "running") continue;
        try {
          await this.spawn(orphan.actorId, type.actorClass, { ...type.options, restore: true });
          // if the "dead" node was only paused or partitioned, it stops its copy as soon as it hears this
          const notice: NodeControl = { type: "tether.node.v1.fence", actorId: orphan.actorId, by: this.id };
          this.#nc.publish(this.subjects.node(dead.nodeId), encodeBody(notice));
          this.#emit({ type: "actor-failed-over", actorId: orphan.actorId, from: dead.nodeId, to: this.id });
        } catch (error) {
          if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) {
            complete = false; // transient (e.g. a JetStream leader election): retry on the next scan
            this.#logger.warn("failover of an actor failed; retrying next beat", { actorId: orphan.actorId, error });
          }
        }
      }
      if (complete) this.#handledDead.add(key);
    }
  }

  /** Stops cells; with `checkpoint`, saves each one's state after it drained. Returns the ids whose checkpoint failed. */
  async #stopCells(cells: ActorCell[], timeoutMs: number, checkpoint = false): Promise<Set<string>> {
    const checkpointFailed = new Set<string>();
    for (const cell of cells) {
      cell.state = "stopping";
      this.#subs.get(cell.id)?.unsubscribe();
      this.#subs.delete(cell.id);
    }
    await Promise.all(
      cells.map(async (cell) => {
        await this.#durableConsumers.get(cell.id)?.stop();
        this.#durableConsumers.delete(cell.id);
      }),
    );
    const drained = await this.#waitIdle(cells, timeoutMs);
    for (const cell of cells) {
      if (!drained) {
        cell.abortCurrent(new TetherError("ERR_SHUTDOWN_TIMEOUT", `actor ${cell.id} did not drain within ${timeoutMs} ms`));
      }
      for (const d of cell.mailbox.drainAll()) {
        this.#rejectDelivery(cell, d, "ERR_SHUTDOWN_TIMEOUT", `actor ${cell.id} stopped before handling message ${d.id}`);
      }
      cell.state = "stopped";
    }
    await Promise.all(
      cells.map(async (cell) => {
        try {
          if (cell.instance.onStop !== undefined) {
            await withTimeout(this.#clock, Promise.resolve(cell.instance.onStop(this.#lifecycleContext(cell.id))), this.options.actorStopTimeoutMs, "ERR_SHUTDOWN_TIMEOUT", `onStop of ${cell.id}`);
          }
        } catch (error) {
          this.#logger.warn("onStop failed", { actorId: cell.id, error });
        }
        if (checkpoint) {
          await this.#saveState(cell).catch((error: unknown) => {
            checkpointFailed.add(cell.id);
            this.#logger.error("checkpoint before a move failed", { actorId: cell.id, error });
          });
        }
        const claim = this.#claims.get(cell.id);
        this.#claims.delete(cell.id);
        this.#cells.delete(cell.id);
        this.#durableSeen.delete(cell.id);
        this.#stateRevisions.delete(cell.id);
        const passivation = this.#passivation.get(cell.id);
        if (passivation?.timer !== undefined) this.#clock.clearTimeout(passivation.timer);
        this.#passivation.delete(cell.id);
        if (claim !== undefined) await this.#registry.release(claim).catch((error: unknown) => this.#logger.warn("release failed", { actorId: cell.id, error }));
        this.#emit({ type: "actor-stopped", actorId: cell.id });
      }),
    );
    return checkpointFailed;
  }

  #waitIdle(cells: ActorCell[], timeoutMs: number): Promise<boolean> {
    const idle = () => cells.every((c) => !c.busy);
    if (idle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => finish(false), timeoutMs);
      const check = () => {
        if (idle()) finish(true);
      };
      const finish = (ok: boolean) => {
        this.#clock.clearTimeout(timer);
        this.#idleWaiters.delete(check);
        resolve(ok);
      };
      this.#idleWaiters.add(check);
    });
  }

  /**
   * Graceful shutdown: stop accepting messages, drain mailboxes within `shutdownTimeoutMs` (the rest is
   * rejected and dead-lettered), run onStop hooks, release ownership, remove the node lease, close the
   * connection, and stop the embedded server. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = "stopping";
      this.#emit({ type: "node-stopping", nodeId: this.id });
      if (this.#heartbeat !== undefined) this.#clock.clearInterval(this.#heartbeat);
      try {
        await this.#stopCells([...this.#cells.values()], this.options.shutdownTimeoutMs);
        await this.#registry.removeNode(this.id).catch((error: unknown) => this.#logger.warn("removing node lease failed", { error }));
        await this.#deadLetters.flush();
        this.#assurance.close();
        this.#pending.rejectAll(new TetherError("ERR_NODE_STOPPED", `node ${this.id} stopped`));
        await this.#nc.drain().catch(() => this.#nc.close());
      } finally {
        this.#state = "stopped";
        await this.#server?.stop();
        this.#emit({ type: "node-stopped", nodeId: this.id });
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertRunning(): void {
    if (this.#state !== "running") throw new TetherError("ERR_NODE_STOPPED", `node ${this.id} is ${this.#state}`);
  }

  #emit(event: NodeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error("event listener threw", { error });
      }
    }
  }
}

/** Stands in for a passivated actor's instance (never handles anything: the cell revives first). */
const PASSIVATED = Object.freeze({ handle: () => undefined });

/** Marks a ref whose sends take the caller's active OpenTelemetry context. */
const ACTIVE_CONTEXT = Symbol("active-context");
const ASK_LINE = `${HeaderNames.kind}: ask\r\n`;
const TELL_LINE = `${HeaderNames.kind}: tell\r\n`;
const PRIORITY_LINE = `${HeaderNames.priority}: 1\r\n`;

interface SendPort {
  send(ref: Ref, msg: unknown, isAsk: boolean, options: AskOptions | undefined): Promise<unknown> | undefined;
  sendDurable(ref: Ref, msg: unknown, options: SendOptions | undefined): Promise<{ id: string; duplicate: boolean }>;
}

const COMPENSATE_LINE = `${HeaderNames.kind}: compensate\r\n`;

/** An ActorRef: plain fields plus two methods (no closures per ref). */
class Ref implements ActorRef {
  readonly #port: SendPort;
  constructor(
    port: SendPort,
    readonly id: string,
    readonly subject: string,
    readonly from: string,
    readonly trace: Context | undefined | typeof ACTIVE_CONTEXT,
    readonly scope: ExecutionScope | undefined,
  ) {
    this.#port = port;
  }

  tell(msg: unknown, options?: TellOptions): void {
    void this.#port.send(this, msg, false, options);
  }

  ask(msg: unknown, options?: AskOptions): Promise<unknown> {
    try {
      return this.#port.send(this, msg, true, options) ?? Promise.resolve(undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  send(msg: unknown, options?: SendOptions): Promise<{ id: string; duplicate: boolean }> {
    return this.#port.sendDurable(this, msg, options);
  }
}

const sleep = (clock: Clock, ms: number): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));

const validateActorClass = (actorClass: unknown): void => {
  const c = actorClass as Partial<ActorClass> | undefined;
  const protocol = c?.protocol as { safeParse?: unknown } | undefined;
  if (typeof actorClass !== "function" || typeof protocol?.safeParse !== "function") {
    throw new TetherError("ERR_ACTOR_CLASS_INVALID", `${c?.name ?? String(actorClass)} must be a class with a static zod \`protocol\``);
  }
  if (typeof (actorClass as { prototype?: { handle?: unknown } }).prototype?.handle !== "function") {
    throw new TetherError("ERR_ACTOR_CLASS_INVALID", `${c?.name ?? "actor class"} must define handle(msg, ctx)`);
  }
};

const paused = (cell: ActorCell): TetherError =>
  new TetherError("ERR_ACTOR_PAUSED", `actor ${cell.id} is paused (quarantined) until ${new Date(cell.pausedUntil).toISOString()}`, {
    details: { actorId: cell.id, until: cell.pausedUntil },
  });

const tooLarge = (target: string, size: number, max: number): TetherError =>
  new TetherError("ERR_MESSAGE_TOO_LARGE", `message to ${target} is ${size} bytes; the limit is ${max}`, { details: { size, max } });

const parseErrorReply = (data: Uint8Array): TetherError => {
  try {
    const parsed = ErrorReply.safeParse(decodeBody(data));
    if (parsed.success) {
      const { details, ...rest } = parsed.data;
      return errorFromWire(details === undefined ? rest : { ...rest, details });
    }
  } catch {
    /* fall through */
  }
  return new TetherError("ERR_MESSAGE_MALFORMED", "received an unreadable error reply");
};

const safeDetails = (details: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details).slice(0, 32)) {
    if (typeof v === "string") out[k] = v.slice(0, 1024);
    else if (typeof v === "number" || typeof v === "boolean" || v === null) out[k] = v;
  }
  return out;
};

/** Rejects with `code` when `promise` does not settle within `ms` on `clock`. */
const withTimeout = <T>(clock: Clock, promise: Promise<T>, ms: number, code: ErrorCode, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new TetherError(code, `${what} did not finish within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });

