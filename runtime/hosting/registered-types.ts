import { TetherError } from "../../protocols/index.ts";
import type { ActorClass } from "../actor/actor-types.ts";
import type { SpawnOptions } from "../node-options.ts";

/** An actor class this node can host for others (failover, migration, remote supervision). */
export interface RegisteredType {
  readonly actorClass: ActorClass;
  readonly options: SpawnOptions<ActorClass>;
}

/** The classes a node declared with `registerType`, by class name. */
export class RegisteredTypes {
  readonly #types = new Map<string, RegisteredType>();

  register(actorClass: ActorClass, options: SpawnOptions<ActorClass>): void {
    validateActorClass(actorClass);
    this.#types.set(actorClass.name, { actorClass, options });
  }

  get(className: string): RegisteredType | undefined {
    return this.#types.get(className);
  }

  get size(): number {
    return this.#types.size;
  }
}

/** A class Tether can host: a static zod `protocol` and a `handle` method. */
export const validateActorClass = (actorClass: unknown): void => {
  const c = actorClass as Partial<ActorClass> | undefined;
  const protocol = c?.protocol as { safeParse?: unknown } | undefined;
  if (typeof actorClass !== "function" || typeof protocol?.safeParse !== "function") {
    throw new TetherError("ERR_ACTOR_CLASS_INVALID", `${c?.name ?? String(actorClass)} must be a class with a static zod \`protocol\``);
  }
  if (typeof (actorClass as { prototype?: { handle?: unknown } }).prototype?.handle !== "function") {
    throw new TetherError("ERR_ACTOR_CLASS_INVALID", `${c?.name ?? "actor class"} must define handle(msg, ctx)`);
  }
};
