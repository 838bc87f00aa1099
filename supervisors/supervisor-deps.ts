import type { SupervisorActor } from "./supervisor-actor.ts";
import type { SupervisorEvent } from "./supervisor-events.ts";
import type { SupervisorSpec } from "./supervisor-spec.ts";
import type { SupervisionPort } from "./supervision-port.ts";

/** A supervisor spec as a host resolves it by id: the spec, its parent supervisor (if nested) and its options. */
export interface ResolvedSupervisor {
  readonly spec: SupervisorSpec;
  readonly parent: string | undefined;
  readonly watchMs: number;
  readonly random: () => number;
}

/** What a supervisor actor gets from the node hosting it (`SupervisionHost` passes itself). */
export interface SupervisorActorDeps {
  readonly port: SupervisionPort;
  resolve(id: string): ResolvedSupervisor | undefined;
  emit(event: SupervisorEvent): void;
  /** The supervisor started (actor) or stopped (undefined) on this node. */
  attached(id: string, actor: SupervisorActor | undefined): void;
}
