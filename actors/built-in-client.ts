import { TetherError, hasCode } from "../protocols/index.ts";
import type { ActorClass, Node } from "../runtime/index.ts";

/**
 * What every client of a built-in, one-per-network actor (approvals, trust, consensus, verifier) does
 * the same way: `use` binds a node that never hosts the actor (the CLI's short-lived node), `attach`
 * also registers the actor type (so the node can take the actor over on failover), and `start` spawns
 * it here, resuming its checkpoint, unless a live node runs it already.
 */
export abstract class BuiltInActorClient {
  readonly actorId: string;
  readonly #actorClass: ActorClass;
  readonly #what: string;
  #node: Node | undefined;

  protected constructor(actorId: string, actorClass: ActorClass, what: string) {
    this.actorId = actorId;
    this.#actorClass = actorClass;
    this.#what = what;
  }

  /** The actor's constructor argument, built for `node`. */
  protected abstract deps(node: Node): unknown;

  use(node: Node): this {
    this.#node = node;
    return this;
  }

  attach(node: Node): this {
    this.#node = node;
    node.registerType(this.#actorClass, { args: [this.deps(node)] });
    return this;
  }

  async start(): Promise<this> {
    const node = this.bound();
    try {
      await node.spawn(this.actorId, this.#actorClass, { args: [this.deps(node)], restore: true });
    } catch (error) {
      if (!hasCode(error, "ERR_ACTOR_ALREADY_ACTIVE")) throw error;
    }
    return this;
  }

  /** The bound node; ERR_CONFIG_INVALID before `attach` or `use`. */
  protected bound(): Node {
    if (this.#node === undefined) throw new TetherError("ERR_CONFIG_INVALID", `the ${this.#what} client is not bound to a node (call attach(node) or use(node))`);
    return this.#node;
  }
}
