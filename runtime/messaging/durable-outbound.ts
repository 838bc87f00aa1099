import { headers as natsHeaders, nuid, type MsgHdrs } from "@nats-io/transport-node";
import { HeaderNames, TetherError, encodeSend } from "../../protocols/index.ts";
import { outgoingToken, type ExecutionScope } from "../actor/execution-scope.ts";
import type { MessageBinder } from "./outbound.ts";
import type { NodeCore } from "../node-core.ts";
import type { DurableLane } from "../stores/durable-lane.ts";
import { tooLarge } from "./wire-errors.ts";
import { isSafeHeaderValue } from "./wire-headers.ts";
/** Stores a message for `target` in the durable lane (JetStream); resolves once it is acknowledged (deduplicated by id). */
export const publishDurable = async (
  core: NodeCore,
  lane: DurableLane,
  target: string,
  msg: unknown,
  from: string,
  scope: ExecutionScope | undefined,
  idOption: string | undefined,
  bind?: MessageBinder,
): Promise<{ id: string; duplicate: boolean }> => {
    core.assertRunning();
    if (idOption !== undefined && (typeof idOption !== "string" || idOption.length === 0 || idOption.length > 128 || !isSafeHeaderValue(idOption))) {
      throw new TetherError("ERR_MESSAGE_INVALID", "send: id must be 1-128 printable ASCII characters");
    }
    const id = idOption ?? nuid.next();
    let data: Uint8Array;
    try {
      data = encodeSend("tell", id, from, false, msg);
    } catch (cause) {
      throw new TetherError("ERR_MESSAGE_INVALID", `message to ${target} cannot be encoded: ${String(cause)}`, { cause });
    }
    if (data.length > core.options.maxPayloadBytes) throw tooLarge(target, data.length, core.options.maxPayloadBytes);
    // JetStream publish adds its own header (Nats-Msg-Id); Tether adds the ECT, its receipt and binding
    let h: MsgHdrs | undefined;
    const ect = outgoingToken(scope);
    if (ect !== undefined && ect.token !== "") {
      h = natsHeaders();
      h.set(HeaderNames.executionContext, ect.token);
      if (ect.receipt !== undefined) h.set(HeaderNames.receipt, ect.receipt);
      const binding = bind?.(ect, id, target, data);
      if (binding !== undefined) h.set(HeaderNames.binding, binding);
    }
    const { duplicate } = await lane.publish(target, data, h, id);
    if (!duplicate) core.metrics.sent("send");
    return { id, duplicate };
};
