import { TetherError, assertToken, isTetherError, type ActivateRequest } from "../../protocols/index.ts";
import type { ActorClass } from "../actor/actor-types.ts";
import type { ActorHost } from "../hosting/actor-host.ts";
import type { CellDirectory } from "../hosting/cell-directory.ts";
import type { NodeCore } from "../node-core.ts";
import type { ControlPlane } from "./control-plane.ts";

/**
 * Planned migration: moves a local actor to another node, keeping its id and state. It stops taking
 * messages, handles what is queued, checkpoints, releases its id, and has `toNode` activate it from
 * the checkpoint (that node must have `registerType`d the class). Durable messages wait in JetStream
 * meanwhile; tells and asks sent during the move get ERR_ACTOR_NOT_FOUND (retryable). If the move
 * cannot complete, the actor is re-activated here with its in-memory state.
 */
export const migrate = async (
  p: { core: NodeCore; directory: CellDirectory; host: ActorHost; control: ControlPlane },
  id: string,
  toNode: string,
  timeoutMs: number,
): Promise<void> => {
  const { core, directory, host, control } = p;
  core.assertRunning();
  assertToken("node id", toNode);
  const cell = host.local(id);
  if (toNode === core.id) return;
  const original = { ...(directory.spawnOptions.get(id) ?? {}) };
  const rehost = () =>
    host.spawn(id, cell.actorClass, () => cell.instance, { ...original, restore: false } as never).catch((e: unknown) => core.logger.error("actor lost in a failed migration", { actorId: id, error: e }));
  if (!(await host.move(cell))) {
    await rehost();
    throw new TetherError("ERR_MIGRATION_FAILED", `migrating ${id} aborted: its state could not be checkpointed; it stays on ${core.id}`);
  }
  const request: ActivateRequest = { type: "tether.node.v1.activate", actorId: id, className: (cell.actorClass as ActorClass).name };
  try {
    await control.request(toNode, request, timeoutMs);
    core.emit({ type: "actor-migrated", actorId: id, from: core.id, to: toNode });
  } catch (error) {
    await rehost(); // the target could not take it
    throw isTetherError(error) ? error : new TetherError("ERR_TRANSPORT_FAILED", `migrating ${id} to ${toNode} failed: ${String(error)}`, { cause: error });
  }
};
