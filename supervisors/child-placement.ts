import { TetherError, errorFromWire, hasCode, type SupervisedChild, type SupervisorStatus } from "../protocols/index.ts";
import { withTimeout } from "../runtime/index.ts";
import { supervisorError } from "./supervisor-errors.ts";
import type { ChildSpec, SupervisorSpec } from "./supervisor-spec.ts";
import type { SupervisionPort } from "./supervision-port.ts";

/** How nested supervisors start here (the supervisor actor passes its own class). */
export interface NestedSupervisors {
  readonly className: string;
  spawn(id: string): Promise<void>;
}

/**
 * Where and how a supervisor's children start and stop: here, or on the node a child spec names
 * (which builds it from its registered type), falling back here when that node does not answer;
 * nested supervisors as supervisor actors; a child already running (the runtime failed it over
 * before the supervisor looked) is adopted where it runs.
 */
export class ChildPlacement {
  readonly #port: SupervisionPort;
  readonly #supervisor: () => string;
  readonly #nested: NestedSupervisors;

  constructor(port: SupervisionPort, supervisor: () => string, nested: NestedSupervisors) {
    this.#port = port;
    this.#supervisor = supervisor;
    this.#nested = nested;
  }

  /** Starts a child; returns where it runs, to be recorded in the supervisor's checkpoint. */
  async start(child: ChildSpec): Promise<SupervisedChild> {
    if (child.kind === "supervisor") return this.#startSupervisor(child);
    const port = this.#port;
    let instance: unknown;
    try {
      instance = child.start();
    } catch (cause) {
      throw new TetherError("ERR_ACTOR_START_FAILED", `child ${child.id} of ${this.#supervisor()}: start() threw: ${String(cause)}`, { cause });
    }
    if (typeof instance !== "object" || instance === null) {
      throw supervisorError("ERR_SUPERVISOR_SPEC_INVALID", `child ${child.id} of ${this.#supervisor()}: start() must return an actor instance`);
    }
    const placement = child.node;
    if (placement !== undefined && placement !== port.nodeId) {
      // placed on another node, which builds it from its registered type (registerType) with fresh state;
      // if that node does not answer (gone), the child starts here instead
      const className = (instance as { constructor: { name: string } }).constructor.name;
      try {
        await port.controlNode(placement, { type: "tether.node.v1.activate", actorId: child.id, className, fresh: true }, child.startMs);
        return this.#entry(child, placement);
      } catch (error) {
        if (hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) return this.#adopt(child, error);
        if (!hasCode(error, "ERR_NODE_UNREACHABLE")) throw error; // the node answered and refused: a real error
      }
    }
    try {
      await withTimeout(port.clock, port.spawnInstance(child.id, instance), child.startMs, "ERR_ACTOR_START_FAILED", `child ${child.id} start`);
    } catch (error) {
      if (hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) return this.#adopt(child, error);
      throw error;
    }
    return this.#entry(child, port.nodeId);
  }

  /** Stops a child wherever it runs (a nested supervisor is asked to shut its own subtree down first). */
  async stop(id: string, kind: SupervisedChild["kind"], limitMs: number): Promise<void> {
    if (kind === "supervisor") {
      const envelope = await this.#port.signShutdown(id);
      await this.#port.ref(id).ask({ type: "tether.supervisor.v1.shutdown", envelope }, { timeoutMs: limitMs + 1_000 }).catch(() => undefined);
    }
    await this.#stopAnywhere(id, limitMs);
  }

  #entry(child: ChildSpec, node: string): SupervisedChild {
    return { kind: child.kind, node, startedAt: Math.floor(this.#port.clock.now() / 1000) };
  }

  /** A child that is already running elsewhere is adopted where it runs. */
  async #adopt(child: ChildSpec, cause: unknown): Promise<SupervisedChild> {
    const where = await this.#port.whereIs(child.id).catch(() => undefined);
    if (where?.alive !== true) throw cause;
    return this.#entry(child, where.record.nodeId);
  }

  /** A nested supervisor is another SupervisorActor (here, or on its `node`), started by a `start` ask. */
  async #startSupervisor(child: SupervisorSpec): Promise<SupervisedChild> {
    const port = this.#port;
    const placement = child.node ?? port.nodeId;
    let placed = false;
    if (placement !== port.nodeId) {
      try {
        await port.controlNode(placement, { type: "tether.node.v1.activate", actorId: child.id, className: this.#nested.className, fresh: true }, child.startMs);
        placed = true;
      } catch (error) {
        if (hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) placed = true;
        else if (!hasCode(error, "ERR_NODE_UNREACHABLE")) throw error;
      }
    }
    if (!placed) {
      try {
        await this.#nested.spawn(child.id);
      } catch (error) {
        if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error; // running already: ask it to start (a no-op if it has)
      }
    }
    const status = (await port.ref(child.id).ask({ type: "tether.supervisor.v1.start" }, { timeoutMs: child.startMs + 1_000 })) as SupervisorStatus;
    if (status.error !== undefined) {
      await this.#stopAnywhere(child.id, child.shutdownMs);
      throw errorFromWire({ code: status.error.code, message: `supervisor ${child.id} did not start: ${status.error.message}` });
    }
    return this.#entry(child, status.nodeId);
  }

  /** Stops an actor here, or asks its live host to; a dead host's claim is stale and the next start takes it over. */
  async #stopAnywhere(id: string, limitMs: number): Promise<void> {
    const port = this.#port;
    if (port.hosts(id)) {
      await withTimeout(port.clock, port.stopActor(id), limitMs, "ERR_SHUTDOWN_TIMEOUT", `child ${id} stop`).catch((error: unknown) => {
        if (!hasCode(error, "ERR_ACTOR_NOT_FOUND")) throw error;
      });
      return;
    }
    const where = await port.whereIs(id).catch(() => undefined);
    if (where?.alive === true) await port.controlNode(where.record.nodeId, { type: "tether.node.v1.stop", actorId: id }, limitMs + 1_000).catch(() => undefined);
  }
}
