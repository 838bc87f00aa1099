import { z } from "zod";
import { TetherError, errorFromWire, hasCode, isLeaseAlive, type SupervisorStatus } from "../protocols/index.ts";
import type { Node } from "../runtime/index.ts";
import { SupervisorActor } from "./supervisor-actor.ts";
import type { ResolvedSupervisor, SupervisorActorDeps } from "./supervisor-deps.ts";
import { parseSupervisorOptions, supervisorError } from "./supervisor-errors.ts";
import type { SupervisorEvent } from "./supervisor-events.ts";
import type { SupervisorSpec } from "./supervisor-spec.ts";
import { nodeSupervisionPort } from "./supervision-port.ts";

/** Options of one registered supervision tree (its nested supervisors share them). */
export const SupervisionOptions = z.strictObject({
  /** How often a supervisor checks that its children (and their nodes) are alive. Default 1 000 ms. */
  watchMs: z.number().int().min(10).max(3_600_000).default(1_000),
  /** Randomness for backoff jitter (inject a seeded one in tests). Default Math.random. */
  random: z.custom<() => number>((v) => typeof v === "function", { message: "random must be a function returning [0, 1)" }).default(() => Math.random),
});
export type SupervisorOptions = z.input<typeof SupervisionOptions>;

/** A host per node, kept with the node it belongs to (a WeakMap: it goes when the node goes). */
const hosts = new WeakMap<Node, SupervisionHost>();

/**
 * Supervision on one node: the trees it knows (by supervisor id), the `SupervisorActor` type it can
 * host, and the events of the supervisors running here.
 *
 * Specs are data, but their children have `start()` functions, so a spec cannot travel in a checkpoint.
 * Every node that may host a tree registers it (`register`); a supervisor that fails over to a node
 * resolves its spec there by id. `tether node start --agents <module>` registers every tree the module
 * exports (`export const supervisors = [defineSupervisor(…)]`) and the first node to claim a tree's
 * id starts it (`start`); the others are standbys for it.
 */
export class SupervisionHost {
  readonly node: Node;
  readonly #trees = new Map<string, ResolvedSupervisor & { readonly root: string }>();
  readonly #local = new Map<string, SupervisorActor>();
  readonly #listeners = new Set<(e: SupervisorEvent) => void>();
  readonly #deps: SupervisorActorDeps;

  private constructor(node: Node) {
    this.node = node;
    this.#deps = {
      port: nodeSupervisionPort(node),
      resolve: (id) => this.#trees.get(id),
      emit: (event) => this.#emit(event),
      attached: (id, actor) => {
        if (actor === undefined) this.#local.delete(id);
        else this.#local.set(id, actor);
      },
    };
    // this node can take over any supervisor whose tree it registered (failover, migration, placement)
    node.registerType(SupervisorActor, { args: [this.#deps] });
  }

  /** The node's supervision host, created (and the `SupervisorActor` type registered) on first use. */
  static of(node: Node): SupervisionHost {
    let host = hosts.get(node);
    if (host === undefined) {
      host = new SupervisionHost(node);
      hosts.set(node, host);
    }
    return host;
  }

  /**
   * Makes a tree known here, so this node can start it or take it over. Registering the same root id
   * again replaces it; a supervisor id used by another tree is refused (ERR_SUPERVISOR_SPEC_INVALID).
   */
  register(spec: SupervisorSpec, options: SupervisorOptions = {}): void {
    const resolved = parseSupervisorOptions(SupervisionOptions, options, "supervision options");
    const entries: [string, ResolvedSupervisor & { root: string }][] = [];
    const visit = (s: SupervisorSpec, parent: string | undefined): void => {
      const taken = this.#trees.get(s.id);
      if (taken !== undefined && taken.root !== spec.id) {
        throw supervisorError("ERR_SUPERVISOR_SPEC_INVALID", `supervisor id ${s.id} is already used by tree ${taken.root}`, {
          details: { what: "supervision tree", problems: [`${s.id}: used by tree ${taken.root}`] },
        });
      }
      entries.push([s.id, { spec: s, parent, watchMs: resolved.watchMs, random: resolved.random, root: spec.id }]);
      for (const child of s.children) if (child.kind === "supervisor") visit(child, s.id);
    };
    visit(spec, undefined);
    for (const [id, entry] of [...this.#trees]) if (entry.root === spec.id) this.#trees.delete(id);
    for (const [id, entry] of entries) this.#trees.set(id, entry);
  }

  /** Root ids of the registered trees. */
  get trees(): string[] {
    return [...new Set([...this.#trees.values()].map((t) => t.root))];
  }

  /** The registered spec of a supervisor (root or nested) with this id. */
  spec(id: string): SupervisorSpec | undefined {
    return this.#trees.get(id)?.spec;
  }

  /**
   * Claims the tree's root id and starts it here: children in order, each within its limit. Throws
   * ERR_ACTOR_ALREADY_ACTIVE when a live node already runs it, or the error of a child that did not
   * start (the started ones are stopped again and the supervisor gives its id back).
   */
  async start(id: string): Promise<SupervisorStatus> {
    const tree = this.#trees.get(id);
    if (tree === undefined || tree.root !== id) {
      throw supervisorError("ERR_SUPERVISOR_SPEC_UNKNOWN", `no supervision tree ${JSON.stringify(id)} is registered on node ${this.node.id}`, { details: { supervisor: id } });
    }
    await this.node.spawn(id, SupervisorActor, { args: [this.#deps] });
    let status: SupervisorStatus;
    try {
      status = (await this.node.ref(id).ask({ type: "tether.supervisor.v1.start" }, { timeoutMs: tree.spec.startMs + 2_000 })) as SupervisorStatus;
    } catch (error) {
      await this.#stopActor(id, tree.spec.shutdownMs);
      throw error;
    }
    if (status.error !== undefined) {
      await this.#stopActor(id, tree.spec.shutdownMs);
      throw errorFromWire({ code: status.error.code, message: status.error.message });
    }
    return status;
  }

  /** Stops a running tree wherever its supervisor runs: its children in reverse order, then the supervisor. */
  async stop(id: string): Promise<void> {
    const limit = this.#trees.get(id)?.spec.shutdownMs ?? 5_000;
    const envelope = await this.node.controlSigner.sign({ type: "tether.node.v1.stop", actorId: id }, id);
    await this.node.ref(id).ask({ type: "tether.supervisor.v1.shutdown", envelope }, { timeoutMs: limit + 2_000 }).catch(() => undefined);
    await this.#stopActor(id, limit);
  }

  /** Asks a supervisor, wherever it runs, for its phase, children and restart count. */
  async status(id: string): Promise<SupervisorStatus> {
    return (await this.node.ref(id).ask({ type: "tether.supervisor.v1.status" })) as SupervisorStatus;
  }

  /** The supervisor actor with this id, if it runs on this node now. */
  local(id: string): SupervisorActor | undefined {
    return this.#local.get(id);
  }

  /**
   * Before a graceful stop: moves every supervisor running here to a live node that can host it (it
   * registered the tree), keeping its state. Closing a node releases its actors' ids, so without this
   * its supervisors would stop with it rather than fail over. Children running here still stop with the
   * node; the supervisor, already elsewhere, restarts them there. Returns where each one went.
   */
  async handOff(): Promise<{ supervisor: string; to: string | undefined }[]> {
    const now = this.node.clock.now();
    const peers = (await this.node.listNodes().catch(() => []))
      .filter((n) => n.nodeId !== this.node.id && isLeaseAlive(n, now))
      .sort((x, y) => x.actorCount - y.actorCount) // least loaded first
      .map((n) => n.nodeId);
    const moved: { supervisor: string; to: string | undefined }[] = [];
    for (const id of [...this.#local.keys()]) {
      let to: string | undefined;
      for (const peer of peers) {
        try {
          await this.node.migrate(id, peer);
          to = peer;
          break;
        } catch {
          /* that node cannot host it (say it did not register the tree): try the next one */
        }
      }
      moved.push({ supervisor: id, to });
    }
    return moved;
  }

  /** Events of the supervisors running on this node (they follow a supervisor that moves here). */
  onEvent(listener: (e: SupervisorEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #stopActor(id: string, limit: number): Promise<void> {
    const ignoreGone = (error: unknown) => {
      if (!hasCode(error, "ERR_ACTOR_NOT_FOUND")) throw error;
    };
    if (this.node.localActors().includes(id)) {
      await this.node.stopActor(id).catch(ignoreGone);
      return;
    }
    const where = await this.node.whereIs(id).catch(() => undefined);
    if (where?.alive === true) {
      await this.node.controlNode(where.record.nodeId, { type: "tether.node.v1.stop", actorId: id }, limit + 2_000).catch((error: unknown) => {
        throw error instanceof TetherError ? error : new TetherError("ERR_ACTOR_STOPPED", String(error));
      });
    }
  }

  #emit(event: SupervisorEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        /* a listener's failure is not the tree's */
      }
    }
  }
}
