import type { ActorCell } from "../actor/actor-cell.ts";
import type { Claim } from "../stores/registry.ts";
import type { SpawnOptions } from "../node-options.ts";
import type { ActorClass } from "../actor/actor-types.ts";

/**
 * The actors hosted on this node: each cell, the registry claim it holds, and the options it was
 * spawned with. Plain data shared by the rooms that look actors up (hosting, messaging, cluster).
 */
export class CellDirectory {
  readonly cells = new Map<string, ActorCell>();
  readonly claims = new Map<string, Claim>();
  readonly spawnOptions = new Map<string, SpawnOptions<ActorClass>>();
  /** Ids whose spawn is in progress (a second spawn of the same id is refused). */
  readonly starting = new Set<string>();

  get(id: string): ActorCell | undefined {
    return this.cells.get(id);
  }

  /** The cell when it is hosted here and can still take messages. */
  live(id: string): ActorCell | undefined {
    const cell = this.cells.get(id);
    return cell !== undefined && cell.state !== "stopping" && cell.state !== "stopped" ? cell : undefined;
  }

  /** True while `cell` is the copy this node hosts for its id (false once fenced, stopped or moved). */
  owns(cell: ActorCell): boolean {
    return this.cells.get(cell.id) === cell;
  }

  ids(): string[] {
    return [...this.cells.keys()];
  }

  get size(): number {
    return this.cells.size;
  }
}
