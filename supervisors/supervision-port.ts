import { TetherError, verifyControl, type ActivateRequest, type ActorRecord, type ControlEnvelope, type FailureNotice, type ReplayCache, type RollbackReport, type RollbackRequestInput, type StopRequest } from "../protocols/index.ts";
import { type ActorClass, type ActorRef, type Clock, type Node, type StoredEctRecord, type TetherMetrics } from "../runtime/index.ts";

/**
 * What a supervisor needs from the node that hosts it now. Built from the node's public API by
 * `nodeSupervisionPort`; a supervisor that fails over gets the port of its new node (the port is a
 * constructor argument of the registered `SupervisorActor` type on each node). Supervisors never touch
 * the node's NATS connection.
 */
export interface SupervisionPort {
  readonly nodeId: string;
  readonly clock: Clock;
  ref(id: string): ActorRef;
  spawn(id: string, actorClass: ActorClass, args: readonly unknown[]): Promise<unknown>;
  spawnInstance(id: string, instance: object): Promise<unknown>;
  /** Whether this node hosts the actor now. */
  hosts(id: string): boolean;
  /** Stops an actor hosted on this node. */
  stopActor(id: string): Promise<void>;
  whereIs(id: string): Promise<{ record: ActorRecord; alive: boolean } | undefined>;
  controlNode(nodeId: string, request: ActivateRequest | StopRequest, timeoutMs: number): Promise<void>;
  /** A signed stop of `supervisor` (this node's key), which a shutdown request carries. */
  signShutdown(supervisor: string): Promise<ControlEnvelope>;
  /**
   * Checks a shutdown's signed stop: a registry key whose role may stop (a node's, an operator's),
   * addressed to `supervisor`, naming it, fresh and not replayed. Throws ERR_CONTROL_* otherwise.
   */
  verifyShutdown(envelope: unknown, supervisor: string, replay: ReplayCache): Promise<void>;
  /** Handler failures of these actors, wherever they run (see `watchFailures`). */
  watchFailures(actorIds: readonly string[], listener: (notice: FailureNotice) => void): () => void;
  recordEvent(event: string, subject: string, details: Record<string, unknown>): Promise<unknown>;
  listCompensableBy(actorId: string): Promise<StoredEctRecord[]>;
  rollback(request: RollbackRequestInput): Promise<RollbackReport>;
  /** Runs `work` in an internal span (OpenTelemetry; nothing without an SDK). */
  traced<T>(name: string, attributes: Record<string, string | number | boolean>, work: () => Promise<T>): Promise<T>;
  /** The node's OpenTelemetry instruments (restarts are counted here; nothing without an SDK). */
  readonly metrics: TetherMetrics;
}

export const nodeSupervisionPort = (node: Node): SupervisionPort => ({
  nodeId: node.id,
  clock: node.clock,
  ref: (id) => node.ref(id),
  spawn: (id, actorClass, args) => node.spawn(id, actorClass, { args: [...args] }),
  spawnInstance: (id, instance) => node.spawnInstance(id, instance),
  hosts: (id) => node.localActors().includes(id),
  stopActor: (id) => node.stopActor(id),
  whereIs: (id) => node.whereIs(id),
  controlNode: (nodeId, request, timeoutMs) => node.controlNode(nodeId, request, timeoutMs),
  signShutdown: (id) => node.controlSigner.sign({ type: "tether.node.v1.stop", actorId: id }, id),
  verifyShutdown: async (envelope, id, replay) => {
    await verifyControl(envelope, {
      network: node.network,
      target: id,
      now: node.clock.now(),
      keys: node.assurance.keys,
      replay,
      clockSkewMs: node.options.assurance.clockSkewSeconds * 1000,
      accept: (body) => {
        if (body.type !== "tether.node.v1.stop" || body.actorId !== id) throw new TetherError("ERR_CONTROL_MISDIRECTED", `supervisor ${id} shuts down only on a signed stop of itself`);
      },
    });
  },
  watchFailures: (ids, listener) => node.watchFailures(ids, listener),
  recordEvent: (event, subject, details) => node.assurance.recordEvent(event, subject, details),
  listCompensableBy: (id) => node.assurance.store.listCompensableBy(id),
  rollback: (request) => node.rollback(request),
  traced: (name, attributes, work) => node.traced(name, attributes, work),
  metrics: node.metrics,
});
